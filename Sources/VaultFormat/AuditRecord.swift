import Foundation
import VaultSupport

/// One state-changing command, as `_fleet/audit/<time>-<host>-<pid>-<random>.json`: who ran
/// what, where, when, and how it ended. Sealed like every other object, with its name as
/// authenticated data, so a record edited or copied over another's name fails to open.
public struct AuditRecord: Codable, Sendable, Equatable {
    /// When the command ended (ISO 8601, UTC).
    public var time: String
    public var user: String
    public var host: String
    /// The command line, as typed (vault never takes a secret on its command line).
    public var command: String
    /// The shard it acted on, when it names one.
    public var shard: String?
    /// `succeeded`, or `failed`.
    public var outcome: String
    public var exitCode: Int32
    /// The error line of a failed command.
    public var error: String?
    /// Objects sealed under each data key (by key id) since the previous record of the same
    /// process, this record included: what `status` adds up per key.
    public var encryptions: [String: Int64]?

    public init(time: String, user: String, host: String, command: String, shard: String?, outcome: String, exitCode: Int32, error: String?) {
        self.time = time
        self.user = user
        self.host = host
        self.command = command
        self.shard = shard
        self.outcome = outcome
        self.exitCode = exitCode
        self.error = error
    }

    public static let prefix = "_fleet/audit/"

    /// A name no other record takes: the time first, so a listing is in time order.
    public static func objectName(time: Date, host: String, pid: Int32) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss.SSS'Z'"
        let safeHost = String(host.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") ? $0 : "_" }).prefix(64)
        return prefix + "\(f.string(from: time))-\(safeHost)-\(pid)-\(UInt32.random(in: 0...UInt32.max)).json"
    }
}

extension Repository {
    /// Appends `record`, with the encryptions this process made since its previous record
    /// (and this record's own); never replaces one. Counts of a record that could not be
    /// written go back for the next. Records are sealed with the root key, whichever key is
    /// current: they open whenever the repository does, so they can name a later key that
    /// was lost.
    public func append(_ record: inout AuditRecord, at time: Date, pid: Int32) async throws {
        let name = AuditRecord.objectName(time: time, host: record.host, pid: pid)
        let sealer = ObjectEnvelope(keyring: envelope.keyring.map { Keyring(root: $0.root) }, compressionLevel: envelope.compressionLevel)
        let taken = EncryptionTally.drain(keys: Set(envelope.keyring?.keys.map(\.idHex) ?? []))
        var counts = taken
        if let root = sealer.key { counts[root.idHex, default: 0] += 1 }
        record.encryptions = counts.isEmpty ? nil : counts
        var written = false
        defer {
            // The record's own encryption is in it already, not left for the next record.
            if let root = sealer.key { EncryptionTally.add(root.idHex, -1) }
            if !written { EncryptionTally.restore(taken) }
        }
        written = try await storage.putIfAbsent(name, try sealer.seal(try JSONCoding.encode(record), name: name))
        guard written else { throw FormatError(.refused, "audit record \(name) already exists") }
    }

    /// Every audit record, oldest first, each authenticated; a damaged one is an error naming it.
    public func auditRecords() async throws -> [AuditRecord] {
        let names = try await storage.list(prefix: AuditRecord.prefix).filter { $0.hasSuffix(".json") }
        // Sixteen reads at a time: a year of records is thousands of small objects.
        let work = WorkQueue(names)
        let out = try await withThrowingTaskGroup(of: [(String, AuditRecord)].self) { group in
            for _ in 0..<min(16, max(1, names.count)) {
                group.addTask {
                    var mine: [(String, AuditRecord)] = []
                    while let name = work.next() {
                        guard let bytes = try await self.read(name) else { continue }
                        mine.append((name, try JSONCoding.decode(AuditRecord.self, from: bytes, what: name)))
                    }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        // Names begin with the time to the millisecond: records of one second keep their order.
        return out.sorted { $0.0 < $1.0 }.map(\.1)
    }
}
