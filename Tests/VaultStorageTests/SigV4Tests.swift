import Testing
@testable import VaultSupport
@testable import VaultCrypto
@testable import VaultStorage

/// AWS's published SigV4 examples: if any of these changes, S3 would refuse every request.
@Suite("AWS Signature Version 4")
struct SigV4Tests {
    let s3 = SigV4(credentials: .init(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), region: "us-east-1")

    @Test("S3 example: GET object with a Range header")
    func getObject() throws {
        let auth = try s3.authorization(
            method: "GET", path: "/test.txt", query: [],
            headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9"),
                      ("x-amz-content-sha256", SigV4.emptyPayloadHash), ("x-amz-date", "20130524T000000Z")],
            payloadHash: SigV4.emptyPayloadHash, amzDate: "20130524T000000Z")
        #expect(auth == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test("S3 example: list objects with a query string")
    func listObjects() throws {
        let auth = try s3.authorization(
            method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")],
            headers: [("Host", "examplebucket.s3.amazonaws.com"), ("x-amz-content-sha256", SigV4.emptyPayloadHash), ("x-amz-date", "20130524T000000Z")],
            payloadHash: SigV4.emptyPayloadHash, amzDate: "20130524T000000Z")
        #expect(auth.hasSuffix("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"), "\(auth)")
    }

    @Test("signature test suite: repeated query names sort by value, other services and headers")
    func testSuite() throws {
        let signer = SigV4(credentials: .init(accessKey: "AKIDEXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), region: "us-east-1", service: "host")
        let auth = try signer.authorization(
            method: "GET", path: "/", query: [("foo", "Zoo"), ("foo", "aha")],
            headers: [("Date", "Mon, 09 Sep 2011 23:36:00 GMT"), ("Host", "host.foo.com")],
            payloadHash: SigV4.emptyPayloadHash, amzDate: "20110909T233600Z")
        #expect(auth.hasSuffix("SignedHeaders=date;host, Signature=be7148d34ebccdc6423b19085378aa0bee970bdc61d144bd1a8c48c33079ab09"), "\(auth)")
    }

    @Test("URI encoding keeps unreserved characters and, in paths, slashes")
    func encoding() {
        #expect(SigV4.uriEncode("a b+c/d~e", keepSlash: true) == "a%20b%2Bc/d~e")
        #expect(SigV4.uriEncode("a/b") == "a%2Fb")
        #expect(SigV4.uriEncode("test$file.text") == "test%24file.text")
    }
}

@Suite("S3 addressing and credentials")
struct S3AddressingTests {
    let credentials = SigV4.Credentials(accessKey: "AK", secretKey: "SK")

    @Test("path-style and virtual-hosted URLs, ports, encoded keys and sorted queries")
    func urls() throws {
        let path = try S3Client(settings: S3Settings(endpoint: "https://s3.eu-west-1.amazonaws.com", bucket: "pg-backups", region: "eu-west-1"), credentials: credentials)
        #expect(path.url(key: "main/wal/00000001/A B") == "https://s3.eu-west-1.amazonaws.com/pg-backups/main/wal/00000001/A%20B")
        #expect(path.url(key: "", query: [("prefix", "main/"), ("list-type", "2")]) == "https://s3.eu-west-1.amazonaws.com/pg-backups?list-type=2&prefix=main%2F")
        let hosted = try S3Client(settings: S3Settings(endpoint: "https://s3.eu-west-1.amazonaws.com", bucket: "pg-backups", forcePathStyle: false), credentials: credentials)
        #expect(hosted.url(key: "main/shard.json") == "https://pg-backups.s3.eu-west-1.amazonaws.com/main/shard.json")
        #expect(hosted.hostHeader == "pg-backups.s3.eu-west-1.amazonaws.com")
        let local = try S3Client(settings: S3Settings(endpoint: "http://127.0.0.1:8333", bucket: "b"), credentials: credentials)
        #expect(local.hostHeader == "127.0.0.1:8333")
        #expect(throws: StorageError.self) { try S3Client(settings: S3Settings(endpoint: "s3.amazonaws.com", bucket: "b"), credentials: credentials) }
    }

    @Test("credentials come from the environment or an AWS credentials file, never half of each")
    func credentialSources() throws {
        let env = try S3CredentialsLoader.load(file: nil, environment: ["AWS_ACCESS_KEY_ID": "AKENV", "AWS_SECRET_ACCESS_KEY": "SKENV", "AWS_SESSION_TOKEN": "TOKEN"])
        #expect(env.accessKey == "AKENV" && env.secretKey == "SKENV" && env.sessionToken == "TOKEN")
        #expect(throws: StorageError.self) { try S3CredentialsLoader.load(file: nil, environment: ["AWS_ACCESS_KEY_ID": "AKENV"]) }
        let parsed = S3CredentialsLoader.parse("[other]\naws_access_key_id = NO\n[default]\naws_access_key_id = AKFILE\naws_secret_access_key = SK=with=equals\n")
        #expect(parsed["aws_access_key_id"] == "AKFILE")
        #expect(parsed["aws_secret_access_key"] == "SK=with=equals")
    }
}
