import Storage

/// The failures of media, storage and movie-id checks as job failures: their codes travel into
/// the job's events; whether another attempt could succeed comes from the error itself.
extension JobFailure {
    init(_ error: MediaError) {
        self.init(code: error.code.rawValue, message: error.message, retryable: !error.code.isPermanent)
    }

    init(_ error: StorageError) {
        let code = error.code == .canceled ? "JOB_CANCELED" : error.code.rawValue
        self.init(code: code, message: error.description.replacingOccurrences(of: error.code.rawValue + ": ", with: ""),
                  retryable: error.code.isTransient)
    }

    init(_ error: MovieID.Invalid) {
        self.init(code: MovieID.Invalid.code, message: error.message, retryable: false)
    }
}
