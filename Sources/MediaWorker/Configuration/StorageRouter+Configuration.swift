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
}
