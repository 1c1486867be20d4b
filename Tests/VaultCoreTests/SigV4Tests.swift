import Testing
@testable import VaultCore

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
