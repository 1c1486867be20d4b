import Foundation
import VaultSupport

/// One multipart upload: initiate, send the parts (two at a time), complete; abort on any
/// failure, so the object appears whole or not at all and no parts are left billed.
struct MultipartUpload {
    let client: S3Client
    let key: String
    /// The repository name, for messages.
    let name: String

    /// Returns false when `condition` is `If-None-Match: *` and the object already exists.
    func run(_ bytes: [UInt8], condition: [(String, String)]) async throws -> Bool {
        let start = try await client.send(.POST, key: key, query: [("uploads", "")])
        guard start.isSuccess, let uploadId = XMLText.value("UploadId", in: start.text) else {
            throw client.failure(start, "starting the multipart upload of \(name)")
        }
        do {
            let size = S3Storage.partSize
            let ranges = stride(from: 0, to: bytes.count, by: size).map { $0..<min($0 + size, bytes.count) }
            let work = WorkQueue(Array(ranges.enumerated()))
            let client = self.client, key = self.key, name = self.name
            let etags = try await withThrowingTaskGroup(of: [(Int, String)].self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        var done: [(Int, String)] = []
                        while let (index, range) = work.next() {
                            let r = try await client.send(.PUT, key: key, query: [("partNumber", "\(index + 1)"), ("uploadId", uploadId)], body: Array(bytes[range]))
                            guard r.isSuccess, let etag = r.headers.first(name: "etag") else { throw client.failure(r, "uploading part \(index + 1) of \(name)") }
                            done.append((index + 1, etag))
                        }
                        return done
                    }
                }
                var all: [(Int, String)] = []
                for try await part in group { all += part }
                return all.sorted { $0.0 < $1.0 }
            }
            let parts = etags.map { "<Part><PartNumber>\($0.0)</PartNumber><ETag>\(XMLText.escape($0.1))</ETag></Part>" }.joined()
            let body = Array("<CompleteMultipartUpload>\(parts)</CompleteMultipartUpload>".utf8)
            let done = try await client.send(.POST, key: key, query: [("uploadId", uploadId)], headers: condition, body: body)
            if done.status == 412 && !condition.isEmpty {
                await abort(uploadId)
                return false
            }
            // S3 can answer 200 with an error document when completing fails late.
            guard done.isSuccess, done.errorCode == nil else { throw client.failure(done, "completing the multipart upload of \(name)") }
            return true
        } catch {
            await abort(uploadId)
            throw error
        }
    }

    private func abort(_ uploadId: String) async {
        _ = try? await client.send(.DELETE, key: key, query: [("uploadId", uploadId)])
    }
}

extension S3Storage {
    /// Multipart uploads under `prefix` that were started and never completed or aborted (a
    /// process killed mid-upload), older than `age` by the store's clock: the listing's
    /// `Initiated` against the `Date` it was answered with. Aborted unless `dryRun`.
    public func collectAbandonedWrites(under prefix: String, olderThan age: TimeInterval, dryRun: Bool) async throws -> Int {
        let listed = try key(prefix) + "/"
        var found = 0
        var markers: (key: String, upload: String)?
        let dates = ListingDates()
        repeat {
            var query = [("uploads", ""), ("prefix", listed)]
            if let markers { query += [("key-marker", markers.key), ("upload-id-marker", markers.upload)] }
            let r = try await client.send(.GET, key: "", query: query)
            guard r.isSuccess else { throw client.failure(r, "listing unfinished multipart uploads under \(listed)") }
            let storeNow = r.headers.first(name: "date").flatMap(Self.parseHTTPDate) ?? Date()
            for upload in XMLText.elements("Upload", in: r.text) {
                guard let key = XMLText.value("Key", in: upload), let id = XMLText.value("UploadId", in: upload),
                      let started = XMLText.value("Initiated", in: upload).flatMap(dates.parse),
                      storeNow.timeIntervalSince(started) >= age else { continue }
                found += 1
                if dryRun { continue }
                let aborted = try await client.send(.DELETE, key: key, query: [("uploadId", id)])
                guard aborted.isSuccess || aborted.status == 404 else { throw client.failure(aborted, "aborting the unfinished multipart upload of \(key)") }
            }
            markers = XMLText.value("IsTruncated", in: r.text) == "true"
                ? XMLText.value("NextKeyMarker", in: r.text).map { ($0, XMLText.value("NextUploadIdMarker", in: r.text) ?? "") } : nil
        } while markers != nil
        return found
    }
}
