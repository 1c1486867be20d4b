import Foundation
import NIOHTTP1
import VaultSupport
import VaultCrypto

/// A repository in an S3 bucket (AWS or compatible: SeaweedFS, MinIO, Ceph). Objects are
/// `<prefix><name>`. Large objects go up in parts (multipart upload, aborted on failure, so
/// a half-written object is never visible); `putIfAbsent` is a PUT with `If-None-Match: *`,
/// which the store refuses atomically when the name exists; locks are leases (`S3Lease`).
public struct S3Storage: Storage {
    let client: S3Client
    /// Objects larger than this (packs, not WAL segments) are uploaded in parts of `partSize`.
    static let multipartThreshold = 24 << 20
    static let partSize = 8 << 20

    public init(settings: S3Settings, credentials: SigV4.Credentials) throws {
        client = try S3Client(settings: settings, credentials: credentials)
    }

    public var location: String { client.location }

    func key(_ name: String) throws -> String {
        try Self.checkName(name)
        return client.settings.prefix + name
    }

    public func get(_ name: String) async throws -> [UInt8]? {
        let r = try await client.send(.GET, key: try key(name))
        // Absent only when the store says so: a 404 from a proxy or gateway without S3's
        // NoSuchKey (or a missing bucket) is a failure, never "not archived".
        if r.status == 404 && r.errorCode == "NoSuchKey" { return nil }
        guard r.isSuccess else { throw client.failure(r, "GET \(name)") }
        return r.body
    }

    public func getRange(_ name: String, offset: Int, length: Int) async throws -> [UInt8] {
        guard length > 0 else { return [] }
        let r = try await client.send(.GET, key: try key(name), headers: [("range", "bytes=\(offset)-\(offset + length - 1)")])
        if r.status == 404 && r.errorCode != "NoSuchBucket" { throw StorageError(.notFound, "\(location)\(name) does not exist") }
        if r.status == 416 { return [] }
        guard r.isSuccess else { throw client.failure(r, "GET \(name) bytes \(offset)+\(length)") }
        // A store that ignores Range answers 200 with the whole object.
        if r.status == 200 && r.body.count > length { return Array(r.body[min(offset, r.body.count)..<min(offset + length, r.body.count)]) }
        return r.body
    }

    public func put(_ name: String, _ bytes: [UInt8]) async throws {
        _ = try await upload(name, bytes, ifAbsent: false)
    }

    public func putIfAbsent(_ name: String, _ bytes: [UInt8]) async throws -> Bool {
        try await upload(name, bytes, ifAbsent: true)
    }

    /// One PUT, or a multipart upload for large objects; false when `ifAbsent` and the name exists.
    private func upload(_ name: String, _ bytes: [UInt8], ifAbsent: Bool) async throws -> Bool {
        let condition = ifAbsent ? [("if-none-match", "*")] : []
        if bytes.count > Self.multipartThreshold {
            if ifAbsent, try await exists(name) { return false }
            return try await MultipartUpload(client: client, key: try key(name), name: name).run(bytes, condition: condition)
        }
        let r = try await client.send(.PUT, key: try key(name), headers: condition, body: bytes)
        if r.status == 412 && ifAbsent { return false }
        guard r.isSuccess else { throw client.failure(r, "PUT \(name)") }
        return true
    }

    public func exists(_ name: String) async throws -> Bool { try await head(name) != nil }

    public func size(_ name: String) async throws -> Int64? {
        try await head(name).flatMap { $0.first(name: "content-length").flatMap { Int64($0) } }
    }

    public func modified(_ name: String) async throws -> Date? {
        try await head(name).flatMap { $0.first(name: "last-modified").flatMap(Self.parseHTTPDate) }
    }

    private func head(_ name: String) async throws -> HTTPHeaders? {
        let r = try await client.send(.HEAD, key: try key(name))
        if r.status == 404 { return nil }
        guard r.isSuccess else { throw client.failure(r, "HEAD \(name)") }
        return r.headers
    }

    /// A listing's `LastModified`: ISO 8601, with or without fractional seconds.
    static func parseListingDate(_ text: String) -> Date? { ListingDates().parse(text) }

    /// Parses listing times with formatters made once per listing (making one per object
    /// would cost more than the listing of a large WAL archive).
    struct ListingDates {
        private let fractional = ISO8601DateFormatter()
        private let whole = ISO8601DateFormatter()

        init() {
            fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            whole.formatOptions = [.withInternetDateTime]
        }

        func parse(_ text: String) -> Date? { fractional.date(from: text) ?? whole.date(from: text) }
    }

    static func parseHTTPDate(_ text: String) -> Date? {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return f.date(from: text)
    }

    /// The names `listSizes` finds.
    public func list(prefix: String) async throws -> [String] {
        try await listSizes(prefix: prefix).map(\.name)
    }

    /// ListObjectsV2 under `prefix/`, page after page (S3 returns at most 1000 keys per page).
    public func listSizes(prefix: String) async throws -> [ListedObject] {
        let trimmed = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        let listed = client.settings.prefix + (trimmed.isEmpty ? "" : trimmed + "/")
        var objects: [ListedObject] = []
        var token: String?
        let dates = ListingDates()
        repeat {
            var query = [("list-type", "2"), ("prefix", listed)]
            if let token { query.append(("continuation-token", token)) }
            let r = try await client.send(.GET, key: "", query: query)
            guard r.isSuccess else { throw client.failure(r, "listing \(listed)") }
            let text = r.text
            for entry in XMLText.elements("Contents", in: text) {
                guard let key = XMLText.value("Key", in: entry) else { continue }
                let size = XMLText.value("Size", in: entry).flatMap { Int64($0) } ?? 0
                let modified = XMLText.value("LastModified", in: entry).flatMap(dates.parse)
                objects.append(ListedObject(name: String(key.dropFirst(client.settings.prefix.count)), size: size, modified: modified))
            }
            token = XMLText.value("IsTruncated", in: text) == "true" ? XMLText.value("NextContinuationToken", in: text) : nil
        } while token != nil
        return objects.sorted { $0.name < $1.name }
    }

    public func delete(_ name: String) async throws {
        let r = try await client.send(.DELETE, key: try key(name))
        guard r.isSuccess || r.status == 404 else { throw client.failure(r, "DELETE \(name)") }
    }

    /// DeleteObjects, up to 1000 names per request.
    public func delete(_ names: [String]) async throws {
        var start = 0
        while start < names.count {
            let batch = names[start..<min(start + 1000, names.count)]
            start += batch.count
            let objects = try batch.map { "<Object><Key>\(XMLText.escape(try key($0)))</Key></Object>" }.joined()
            let body = Array("<Delete><Quiet>true</Quiet>\(objects)</Delete>".utf8)
            let md5 = Base64.encode(try MessageAuthentication.md5(body))
            let r = try await client.send(.POST, key: "", query: [("delete", "")], headers: [("content-md5", md5)], body: body)
            guard r.isSuccess else { throw client.failure(r, "deleting \(batch.count) objects") }
            if let failed = XMLText.value("Key", in: XMLText.values("Error", in: r.text).joined()) {
                throw StorageError(.io, "S3 could not delete \(location)\(failed): \(XMLText.value("Message", in: r.text) ?? "no reason given")")
            }
        }
    }

    public func lock(_ name: String, owner: String) async throws -> any StorageLock {
        try await S3Lease.acquire(client: client, key: try key(name), name: name, owner: owner)
    }

    /// Creates the bucket (for tests and first setups; operators usually create buckets themselves).
    public func createBucket(timeoutSeconds: Int64 = 120) async throws {
        let r = try await client.send(.PUT, key: "", timeout: .seconds(timeoutSeconds))
        guard r.isSuccess || r.errorCode == "BucketAlreadyOwnedByYou" else { throw client.failure(r, "creating bucket \(client.settings.bucket)") }
    }
}
