import Foundation
import Logging
import VaultSupport
import VaultCrypto
import NIOHTTP1

/// A lock on S3: a lease object holding its owner, a random token and an expiry. Taken with
/// `If-None-Match: *` (only one writer can create it), renewed in the background with
/// `If-Match` on its ETag, taken over with `If-Match` only once expired (a holder that died
/// without releasing), and deleted on release after checking the token is still ours. A
/// holder whose renewal is refused has lost the lease and says so loudly. Whether a lease has
/// expired is judged by the store's clock (`Lapse`), so a host whose clock runs ahead cannot
/// take a live lease over.
final class S3Lease: StorageLock, @unchecked Sendable {
    struct Body: Codable {
        var owner: String
        var token: String
        /// Seconds since 1970 by the holder's clock, for messages.
        var expires: Double
        /// How long the lease lasts from each write (the holder's lease_seconds); absent in
        /// leases written by older versions.
        var seconds: Double?
    }

    /// When a holder's lease lapses by the store's clock: the lease object's Last-Modified
    /// (the store's time of the holder's last write) plus the holder's lease length, against
    /// the Date the store sent with it, both whole seconds (one more second of slack). Without
    /// those headers, the expiry the holder wrote, against this host's clock. A lease written
    /// by an older version does not say its length: it lapses only once both rules (with this
    /// host's length) say so, since its holder may renew less often than this host would.
    struct Lapse {
        var lapsed: Bool
        var at: Date

        init(holder: Body, headers: HTTPHeaders, leaseSeconds: Double) {
            if let modified = headers.first(name: "last-modified").flatMap(S3Storage.parseHTTPDate),
               let storeNow = headers.first(name: "date").flatMap(S3Storage.parseHTTPDate) {
                let lapse = modified.addingTimeInterval((holder.seconds ?? leaseSeconds) + 1)
                // Reported in this host's time: how far off the lapse is from now.
                at = Date().addingTimeInterval(lapse.timeIntervalSince(storeNow))
                lapsed = storeNow > lapse
                if holder.seconds == nil {
                    let written = Date(timeIntervalSince1970: holder.expires)
                    lapsed = lapsed && written < Date()
                    at = max(at, written)
                }
            } else {
                at = Date(timeIntervalSince1970: holder.expires)
                lapsed = holder.expires < Date().timeIntervalSince1970
            }
        }
    }


    let client: S3Client
    let key: String
    let name: String
    let body: Body
    private let lock = NSLock()
    private var etag: String
    private var renewal: Task<Void, Never>?

    private init(client: S3Client, key: String, name: String, body: Body, etag: String) {
        self.client = client
        self.key = key
        self.name = name
        self.body = body
        self.etag = etag
    }

    static func acquire(client: S3Client, key: String, name: String, owner: String) async throws -> S3Lease {
        let token = Hex.encode(try SecureRandom.bytes(16))
        for _ in 0..<3 {
            let body = Body(owner: owner, token: token, expires: Date().timeIntervalSince1970 + client.settings.leaseSeconds, seconds: client.settings.leaseSeconds)
            let created = try await client.send(.PUT, key: key, headers: [("if-none-match", "*")], body: try JSONCoding.encode(body))
            if created.isSuccess, let etag = created.headers.first(name: "etag") {
                return start(S3Lease(client: client, key: key, name: name, body: body, etag: etag))
            }
            guard created.status == 412 else { throw client.failure(created, "taking the lease \(name)") }
            let current = try await client.send(.GET, key: key)
            if current.status == 404 { continue } // released in between: try again
            guard current.isSuccess, let etag = current.headers.first(name: "etag") else { throw client.failure(current, "reading the lease \(name)") }
            let holder = try JSONCoding.decode(Body.self, from: current.body, what: "lease \(client.location)\(name)")
            if holder.token == token { return start(S3Lease(client: client, key: key, name: name, body: body, etag: etag)) }
            let lapse = Lapse(holder: holder, headers: current.headers, leaseSeconds: client.settings.leaseSeconds)
            guard lapse.lapsed else {
                throw StorageError(.lockHeld, "\(client.location)\(name) is held by \(holder.owner) until \(Timestamp.format(lapse.at)); one writer per shard at a time")
            }
            let taken = try await client.send(.PUT, key: key, headers: [("if-match", etag)], body: try JSONCoding.encode(body))
            if taken.isSuccess, let newTag = taken.headers.first(name: "etag") {
                Logger(label: "vault.lease").warning("took over the lease \(name) of \(holder.owner), which expired at \(Timestamp.format(lapse.at))")
                return start(S3Lease(client: client, key: key, name: name, body: body, etag: newTag))
            }
            guard taken.status == 412 else { throw client.failure(taken, "taking over the lease \(name)") }
        }
        throw StorageError(.lockHeld, "\(client.location)\(name) is changing hands too fast to take; try again")
    }

    private static func start(_ lease: S3Lease) -> S3Lease {
        // How long a lease lasts without renewal (repository.s3.lease_seconds); renewed every third of it.
        let interval = UInt64(lease.client.settings.leaseSeconds / 3 * 1e9)
        lease.renewal = Task { [weak lease] in
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: interval)
                guard !Task.isCancelled, let lease else { return }
                await lease.renew()
            }
        }
        return lease
    }

    private func renew() async {
        do {
            try await renewNow()
        } catch {
            Logger(label: "vault.lease").error("\(error)")
        }
    }

    /// Extends the lease from now, on the condition (`If-Match`) that nobody has written it
    /// since our last write: a success proves nobody took it over, however late it comes.
    private func renewNow() async throws {
        var body = self.body
        body.expires = Date().timeIntervalSince1970 + client.settings.leaseSeconds
        let tag = lock.withLock { etag }
        let r = try await client.send(.PUT, key: key, headers: [("if-match", tag)], body: try JSONCoding.encode(body))
        if r.isSuccess, let newTag = r.headers.first(name: "etag") {
            lock.withLock { etag = newTag }
        } else if r.status == 412 || r.status == 404 {
            throw StorageError(.lockLost, "lost the lease \(client.location)\(name): it lapsed (lease_seconds \(Int(client.settings.leaseSeconds))) and another process took it over; stopping without writing")
        } else {
            throw client.failure(r, "renewing the lease \(name)")
        }
    }

    func confirm() async throws {
        try await renewNow()
    }

    func release() async {
        renewal?.cancel()
        renewal = nil
        guard let current = try? await client.send(.GET, key: key), current.isSuccess,
              let holder = try? JSONCoding.decode(Body.self, from: current.body, what: "lease"), holder.token == body.token else { return }
        _ = try? await client.send(.DELETE, key: key)
    }
}
