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
    /// (and this record's own); never replaces one.
    public func append(_ record: inout AuditRecord, at time: Date, pid: Int32) async throws {
        let name = AuditRecord.objectName(time: time, host: record.host, pid: pid)
        var counts = EncryptionTally.drain()
        if let key = envelope.key { counts[key.idHex, default: 0] += 1 }
        record.encryptions = counts.isEmpty ? nil : counts
        let written = try await writeIfAbsent(name, try JSONCoding.encode(record))
        // The record's own encryption is in it already, not left for the next record.
        if let key = envelope.key { EncryptionTally.add(key.idHex, -1) }
        guard written else { throw FormatError(.refused, "audit record \(name) already exists") }
    }

    /// Every audit record, oldest first, each authenticated; a damaged one is an error naming it.
    public func auditRecords() async throws -> [AuditRecord] {
        var out: [AuditRecord] = []
        for name in try await storage.list(prefix: AuditRecord.prefix) where name.hasSuffix(".json") {
            guard let bytes = try await read(name) else { continue }
            out.append(try JSONCoding.decode(AuditRecord.self, from: bytes, what: name))
        }
        return out.sorted { $0.time < $1.time }
    }
}
