import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import VaultSupport
import VaultCrypto

/// Signed requests to one bucket of an S3-compatible object store, with retries: connection
/// errors, 5xx and throttling (429, 503 SlowDown) are retried with jittered exponential
/// backoff; any other answer is returned to the caller, which knows what a 404 or 412 means.
struct S3Client: Sendable {
    struct Response: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]

        var text: String { String(decoding: body, as: UTF8.self) }
        var isSuccess: Bool { (200..<300).contains(status) }
        /// S3's `<Code>`, when the body is an error document.
        var errorCode: String? { XMLText.value("Code", in: text) }
    }

    let settings: S3Settings
    let signer: SigV4
    let scheme: String
    let host: String
    let port: Int?
    let tls: TLSConfiguration?
    static let attempts = 5
    static let timeout = TimeAmount.seconds(120)

    /// One client for the process, never shut down (it lives as long as the process). It does
    /// not retry failed connections by itself: `send` does, a bounded number of times, and a
    /// TLS failure fails at once instead of being retried until a deadline.
    static let http: HTTPClient = {
        var config = HTTPClient.Configuration()
        config.timeout = .init(connect: .seconds(10), read: .seconds(60))
        config.connectionPool.retryConnectionEstablishment = false
        config.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: config)
    }()

    init(settings: S3Settings, credentials: SigV4.Credentials) throws {
        guard let url = URL(string: settings.endpoint), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = url.host, !host.isEmpty else {
            throw StorageError(.misconfigured, "repository.s3.endpoint '\(settings.endpoint)' is not an http(s) URL such as https://s3.eu-west-1.amazonaws.com")
        }
        self.settings = settings
        self.signer = SigV4(credentials: credentials, region: settings.region)
        self.scheme = scheme
        self.host = host
        self.port = url.port
        if let ca = settings.caFile {
            var config = TLSConfiguration.makeClientConfiguration()
            config.trustRoots = .file(ca)
            tls = config
        } else {
            tls = nil
        }
    }

    /// `s3://bucket/prefix`, for messages.
    var location: String { "s3://\(settings.bucket)/\(settings.prefix)" }

    var hostHeader: String {
        let base = settings.forcePathStyle ? host : "\(settings.bucket).\(host)"
        guard let port, !(scheme == "http" && port == 80) && !(scheme == "https" && port == 443) else { return base }
        return "\(base):\(port)"
    }

    /// The URI-encoded path of an object key (or of the bucket, for an empty key).
    func path(_ key: String) -> String {
        let encoded = SigV4.uriEncode(key, keepSlash: true)
        guard settings.forcePathStyle else { return "/\(encoded)" }
        return key.isEmpty ? "/\(settings.bucket)" : "/\(settings.bucket)/\(encoded)"
    }

    /// The request URL: path-style `scheme://host[:port]/bucket/key`, or virtual-hosted
    /// `scheme://bucket.host[:port]/key`, with the query in canonical (signed) order.
    func url(key: String, query: [(String, String)] = []) -> String {
        let queryText = SigV4.canonicalQuery(query)
        return "\(scheme)://\(hostHeader)\(path(key))\(queryText.isEmpty ? "" : "?" + queryText)"
    }

    /// Sends one request and returns the final answer; throws only when the store could not
    /// be reached, or kept failing, after every retry.
    func send(_ method: HTTPMethod, key: String, query: [(String, String)] = [], headers extra: [(String, String)] = [],
              body: [UInt8] = [], timeout: TimeAmount = Self.timeout) async throws -> Response {
        var lastProblem = ""
        for attempt in 0..<Self.attempts {
            if attempt > 0 { try await Task.sleep(nanoseconds: Self.backoff(attempt)) }
            do {
                let response = try await sendOnce(method, key: key, query: query, headers: extra, body: body, timeout: timeout)
                if response.status >= 500 || response.status == 429 {
                    lastProblem = "HTTP \(response.status)\(response.errorCode.map { " \($0)" } ?? "")"
                    continue
                }
                return response
            } catch let e as StorageError {
                throw e
            } catch let e as CryptoError {
                // Signing failed: no retry can help.
                throw e
            } catch let e as NIOSSLError {
                // A certificate that does not verify will not verify on the next attempt either.
                let reason = "\(e)".contains("CERTIFICATE_VERIFY_FAILED") ? "its certificate did not verify (CERTIFICATE_VERIFY_FAILED)" : "\(e)"
                throw StorageError(.io, "TLS with \(settings.endpoint) failed: \(reason); if the store uses a private CA, name its certificate in repository.s3.ca_file")
            } catch {
                lastProblem = "\(error)"
            }
        }
        throw StorageError(.unreachable, "cannot \(method) \(location)\(key) at \(settings.endpoint): \(lastProblem) (after \(Self.attempts) attempts)")
    }

    /// 250 ms, 500 ms, 1 s, 2 s… (capped at 8 s), each scaled by a random factor in 0.5–1.5.
    static func backoff(_ attempt: Int) -> UInt64 {
        let base = min(8.0, 0.25 * pow(2.0, Double(attempt - 1)))
        return UInt64(base * Double.random(in: 0.5...1.5) * 1e9)
    }

    private func sendOnce(_ method: HTTPMethod, key: String, query: [(String, String)], headers extra: [(String, String)], body: [UInt8],
                          timeout: TimeAmount) async throws -> Response {
        let amzDate = SigV4.amzDate(Date())
        let payloadHash = body.isEmpty ? SigV4.emptyPayloadHash : Hex.encode(try SHA256.hash(body))
        var signed: [(String, String)] = [("host", hostHeader), ("x-amz-content-sha256", payloadHash), ("x-amz-date", amzDate)]
        if let token = signer.credentials.sessionToken { signed.append(("x-amz-security-token", token)) }
        signed += extra.map { ($0.0.lowercased(), $0.1) }
        let path = path(key)
        let authorization = try signer.authorization(method: method.rawValue, path: path, query: query, headers: signed,
                                                     payloadHash: payloadHash, amzDate: amzDate)
        var request = HTTPClientRequest(url: url(key: key, query: query))
        request.method = method
        for (name, value) in signed { request.headers.add(name: name, value: value) }
        request.headers.add(name: "authorization", value: authorization)
        if !body.isEmpty || method == .PUT || method == .POST { request.body = .bytes(ByteBuffer(bytes: body)) }
        if let tls { request.tlsConfiguration = tls }
        let response = try await Self.http.execute(request, timeout: timeout)
        var buffer = try await response.body.collect(upTo: 1 << 30)
        return Response(status: Int(response.status.code), headers: response.headers, body: buffer.readBytes(length: buffer.readableBytes) ?? [])
    }

    /// The error for an answer the caller did not expect: credentials and missing buckets
    /// get their own kinds, so `archive-get` never mistakes them for a missing file.
    func failure(_ response: Response, _ what: String) -> StorageError {
        let code = response.errorCode ?? "HTTP \(response.status)"
        let message = XMLText.value("Message", in: response.text).map { ": \($0)" } ?? ""
        switch (response.status, code) {
        case (403, _), (_, "InvalidAccessKeyId"), (_, "SignatureDoesNotMatch"):
            return StorageError(.credentialsRefused, "\(settings.endpoint) refused the S3 credentials for bucket \(settings.bucket) (\(code)\(message)); check the access key and secret key")
        case (_, "NoSuchBucket"):
            return StorageError(.misconfigured, "bucket \(settings.bucket) does not exist at \(settings.endpoint); create it first")
        default:
            return StorageError(.io, "S3 \(what) failed: \(code)\(message)")
        }
    }
}
