import JobContract
/// The movie an upload belongs to ("draft and link"): the input object's `x-amz-meta-movie-id`
/// wins, since the uploader signed it into the presigned PUT; the job's own `movie_id` is the
/// fallback when the object has none. Both must be safe identifiers.
public enum MovieID {
    public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        public static let code = "JOB_INVALID_MOVIE_ID"
        public var message: String
        public var description: String { "\(Self.code): \(message)" }
    }

    /// `objectMetadata`: the object's user metadata as HEAD gives it (names lower-cased).
    public static func resolve(objectMetadata: [String: String], jobMovieID: String?) throws(Invalid) -> String? {
        let fromObject = objectMetadata.first { $0.key.lowercased() == "movie-id" }?.value
        if let fromObject {
            guard JobDecoder.isSafeIdentifier(fromObject) else {
                throw Invalid(message: "the object's movie-id metadata is not 1-128 characters of A-Z a-z 0-9 . _ : -")
            }
            return fromObject
        }
        if let jobMovieID {
            guard JobDecoder.isSafeIdentifier(jobMovieID) else {
                throw Invalid(message: "the job's movie_id is not 1-128 characters of A-Z a-z 0-9 . _ : -")
            }
            return jobMovieID
        }
        return nil
    }
}
