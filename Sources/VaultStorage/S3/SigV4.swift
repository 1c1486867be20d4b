import Foundation
import VaultSupport
import VaultCrypto

/// AWS Signature Version 4, as S3 uses it: a canonical request (method, URI-encoded path,
/// sorted query, lower-cased sorted headers, payload hash), a string to sign that names the
/// date, region and service, and a key derived from the secret by four chained HMAC-SHA256
/// steps. Pure apart from libcrypto, so it is tested against AWS's published examples.
public struct SigV4: Sendable {
    public struct Credentials: Sendable {
        public var accessKey: String
        public var secretKey: String
        public var sessionToken: String?

        public init(accessKey: String, secretKey: String, sessionToken: String? = nil) {
            self.accessKey = accessKey
            self.secretKey = secretKey
            self.sessionToken = sessionToken
        }
    }

    public let credentials: Credentials
    public let region: String
    public let service: String

    public init(credentials: Credentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// SHA-256 of an empty payload.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The `Authorization` header for a request. `headers` are every header to sign (at least
    /// `host` and `x-amz-date`; names in any case); `path` is already URI-encoded; `query`
    /// pairs are raw and encoded here.
    public func authorization(method: String, path: String, query: [(String, String)], headers: [(String, String)],
                              payloadHash: String, amzDate: String) throws -> String {
        let date = String(amzDate.prefix(8))
        let scope = "\(date)/\(region)/\(service)/aws4_request"
        let canonical = Self.canonicalHeaders(headers)
        let request = [method, path, Self.canonicalQuery(query), canonical.text, canonical.signed, payloadHash].joined(separator: "\n")
        let toSign = ["AWS4-HMAC-SHA256", amzDate, scope, Hex.encode(try SHA256.hash(Array(request.utf8)))].joined(separator: "\n")
        var key = try MessageAuthentication.hmacSHA256(key: Array(("AWS4" + credentials.secretKey).utf8), Array(date.utf8))
        for part in [region, service, "aws4_request"] { key = try MessageAuthentication.hmacSHA256(key: key, Array(part.utf8)) }
        let signature = Hex.encode(try MessageAuthentication.hmacSHA256(key: key, Array(toSign.utf8)))
        return "AWS4-HMAC-SHA256 Credential=\(credentials.accessKey)/\(scope), SignedHeaders=\(canonical.signed), Signature=\(signature)"
    }

    /// `name:value` lines (names lower-cased, values trimmed, inner runs of spaces collapsed),
    /// sorted by name, and the `;`-joined names.
    static func canonicalHeaders(_ headers: [(String, String)]) -> (text: String, signed: String) {
        let normalized = headers.map { (name, value) -> (String, String) in
            let collapsed = value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            return (name.lowercased(), collapsed.trimmingCharacters(in: .whitespaces))
        }.sorted { $0.0 < $1.0 }
        return (normalized.map { "\($0.0):\($0.1)\n" }.joined(), normalized.map(\.0).joined(separator: ";"))
    }

    /// Query pairs URI-encoded and sorted by name, then value.
    static func canonicalQuery(_ query: [(String, String)]) -> String {
        let encoded: [(name: String, value: String)] = query.map { (uriEncode($0.0), uriEncode($0.1)) }
        let sorted = encoded.sorted { a, b in a.name == b.name ? a.value < b.value : a.name < b.name }
        return sorted.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
    }

    /// RFC 3986 encoding: unreserved characters stay, everything else is `%XX` (upper case);
    /// `/` stays too when encoding a path.
    public static func uriEncode(_ text: String, keepSlash: Bool = false) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(Character(UnicodeScalar(byte)))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// `20130524T000000Z` for a date.
    public static func amzDate(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return f.string(from: date)
    }
}
