public struct S3Settings: Sendable {
    public var endpoint: String
    public var bucket: String
    public var region: String
    public var prefix: String
    public var credentialsFile: String?
    public var caFile: String?
    public var forcePathStyle: Bool
    /// How long a lock lease lasts without renewal (a dead holder's lease is taken over after it).
    public var leaseSeconds: Double = 60

    public init(endpoint: String, bucket: String, region: String = "us-east-1", prefix: String = "", credentialsFile: String? = nil,
                caFile: String? = nil, forcePathStyle: Bool = true, leaseSeconds: Double = 60) {
        self.endpoint = endpoint
        self.bucket = bucket
        self.region = region
        self.prefix = prefix
        self.credentialsFile = credentialsFile
        self.caFile = caFile
        self.forcePathStyle = forcePathStyle
        self.leaseSeconds = leaseSeconds
    }
}
