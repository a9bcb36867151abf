import Storage

extension StorageRouter {
    /// Local roots from MW_STORAGE_ROOT, S3 from the AWS variables and MW_S3_BUCKETS.
    public init(configuration: WorkerConfiguration, breaker: StorageCircuitBreaker? = nil) throws(StorageError) {
        self.init(
            local: try LocalStorage(roots: [configuration.storageRoot]),
            s3: try S3Configuration(settings: configuration.aws, allowedBuckets: Set(configuration.s3Buckets),
                                    pathStyle: !configuration.s3VirtualHosted).map { s3 in
                var s3 = s3
                s3.serverSideEncryption = configuration.s3ServerSideEncryption
                return S3Storage(configuration: s3, breaker: breaker)
            })
    }

    /// MW_HLS_KEY_STORE must be somewhere this worker may write (inside MW_STORAGE_ROOT, or an
    /// allowed bucket), or every encrypted job would fail: refused at start-up instead.
    public func checkKeyStore(_ configuration: WorkerConfiguration) throws(ConfigurationError) {
        guard let store = configuration.hlsKeys.store else { return }
        do {
            // A key's place under the prefix (the prefix may be a storage root itself).
            try checkWritable(try StorageLocation(parsing: store).appending("file/version/key.key"))
        } catch {
            throw ConfigurationError(variable: "MW_HLS_KEY_STORE", reason: error.description)
        }
    }
}
