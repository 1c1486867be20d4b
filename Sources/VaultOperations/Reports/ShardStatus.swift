import Foundation
import VaultSupport
import VaultPostgres
import VaultFormat
import VaultPolicy

/// The stable JSON shape of one shard in `vault status --json`.
public struct ShardStatus: Encodable, Sendable {
    public var shard: String
    public var backups: Int
    public var newestBackup: String?
    public var newestBackupStopTime: String?
    /// Seconds from the newest backup's consistent point to now: what a restore of it would lose
    /// without WAL, and what monitoring alerts on.
    public var newestBackupAgeSeconds: Int?
    public var newestWAL: String?
    /// When the newest archived segment reached the repository, and seconds since then.
    public var newestWALArchivedAt: String?
    public var newestWALAgeSeconds: Int?
    public var lastVerification: VerificationSummary?
    public var lastVerifiedRestore: VerificationSummary?
    /// Every node's role, timeline, positions and upstream, and what drifted; nil when the
    /// nodes were not asked.
    public var topology: Topology?
    /// The newest switchover, failover or rejoin recorded for the shard.
    public var lastTopologyChange: TopologyEvent?
    /// Old primaries a failover left fenced, until `vault rejoin`.
    public var fenced: [String]?
    /// The repository's data keys and their encryption counts (the same for every shard).
    public var keys: [KeyUsage]?

    /// `ids` and `verifications` are the shard's, when the caller has read them already.
    public static func load(_ shard: String, repository: Repository, now: Date = Date(),
                            ids knownIDs: [String]? = nil, verifications known: [VerificationRecord]? = nil) async throws -> ShardStatus {
        // Only the newest head is read, however many backups the shard has.
        var ids = knownIDs ?? []
        if knownIDs == nil { ids = try await repository.backupIDs(shard: shard) }
        let newest = try await ids.last.asyncMap { try await repository.head(shard: shard, id: $0) } ?? nil
        var verifications = known ?? []
        if known == nil { verifications = try await repository.verifications(shard: shard) }
        let walObject = try await repository.storage.list(prefix: "\(shard)/wal").filter { name in
            WALFileName(String(name.split(separator: "/").last ?? ""))?.kind == .segment
        }.max { $0.split(separator: "/").last ?? "" < $1.split(separator: "/").last ?? "" }
        let walTime = try await walObject.asyncMap { try await repository.storage.modified($0) } ?? nil
        let stop = newest.flatMap { Timestamp.parse($0.stopTime) }
        return ShardStatus(shard: shard, backups: ids.count, newestBackup: newest?.id, newestBackupStopTime: newest?.stopTime,
                           newestBackupAgeSeconds: stop.map { Int(now.timeIntervalSince($0)) },
                           newestWAL: walObject.map { String($0.split(separator: "/").last ?? "") },
                           newestWALArchivedAt: walTime.map(Timestamp.format), newestWALAgeSeconds: walTime.map { Int(now.timeIntervalSince($0)) },
                           lastVerification: verifications.last.map(VerificationSummary.init),
                           lastVerifiedRestore: verifications.lastRestoredAndPassed.map(VerificationSummary.init))
    }

    /// Adds the nodes' topology (each node asked over libpq) and the recorded topology changes.
    public mutating func addTopology(_ shard: ShardPolicy, repository: Repository) async throws {
        topology = Topology(shard: shard.name, nodes: NodeProbe.observe(shard))
        let events = try await repository.topologyEvents(shard: shard.name)
        lastTopologyChange = events.last
        fenced = Self.fenced(events)
    }

    /// A failover's old primary stays fenced until a later rejoin of that node completes.
    static func fenced(_ events: [TopologyEvent]) -> [String] {
        var fenced: [String] = []
        for event in events where event.outcome.hasPrefix("completed") {
            switch event.kind {
            case .failover: if let from = event.from, !fenced.contains(from) { fenced.append(from) }
            case .rejoin: fenced.removeAll { $0 == event.from }
            case .switchover: break
            }
        }
        return fenced
    }

    /// "45 s", "12 min", "3 h 5 min", "2 d 4 h".
    public static func age(_ seconds: Int) -> String {
        let s = max(0, seconds)
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60) min" }
        if s < 86400 { return "\(s / 3600) h \(s % 3600 / 60) min" }
        return "\(s / 86400) d \(s % 86400 / 3600) h"
    }

    public var text: String {
        let backupText = newestBackup.map { id in
            "\(id) (consistent at \(newestBackupStopTime ?? "?")\(newestBackupAgeSeconds.map { ", \(Self.age($0)) ago" } ?? ""))"
        } ?? "none"
        var lines = ["shard \(shard): \(backups) backup\(backups == 1 ? "" : "s"), newest \(backupText)"]
        lines.append("  WAL archived up to \(newestWAL.map { w in "\(w)\(newestWALAgeSeconds.map { ", \(Self.age($0)) ago" } ?? "")" } ?? "nothing yet")")
        if let v = lastVerifiedRestore {
            lines.append("  last verified restore: backup \(v.backup) at \(v.finished), recovery took \(v.recoverySeconds.map { String(format: "%.1f s", $0) } ?? "?")")
        } else {
            lines.append("  last verified restore: never (run 'vault verify')")
        }
        if let v = lastVerification, !v.passed {
            lines.append("  LAST VERIFICATION FAILED: backup \(v.backup) at \(v.finished): \(v.firstProblem ?? "?")")
        }
        if let topology { lines += Self.topologyLines(topology) }
        if let change = lastTopologyChange {
            lines.append("  last topology change: \(change.kind.rawValue) \(change.from ?? "?") → \(change.to ?? "?") at \(change.finished) by \(change.user)@\(change.host): \(change.outcome)")
        }
        for node in fenced ?? [] { lines.append("  FENCED: \(node) (old primary of a failover; bring it back with vault rejoin --node \(node))") }
        return lines.joined(separator: "\n")
    }

    static func topologyLines(_ t: Topology) -> [String] {
        var lines = ["  nodes: \(t.primary.map { "primary \($0)" } ?? "NO PRIMARY")"]
        for node in t.nodes {
            guard node.reachable else {
                lines.append("    \(node.name)  unreachable: \(node.error ?? "no answer")")
                continue
            }
            var cells = [node.name, node.role?.rawValue ?? "?", "timeline \(node.timeline.map(String.init) ?? "?")"]
            if node.role == .primary {
                cells.append("at \(node.currentLSN.map(\.description) ?? "?")")
                if let a = node.archiver { cells.append(a.failedCount > 0 && (a.lastFailedWAL ?? "") > (a.lastArchivedWAL ?? "") ? "ARCHIVER FAILING (\(a.lastFailedWAL ?? "?"))" : "archiver ok\(a.readyCount.map { ", \($0) waiting" } ?? "")") }
            } else {
                let source = node.upstream.map { "\($0.status) from \($0.host ?? "?"):\($0.port ?? "?")" } ?? "no WAL receiver"
                cells.append(source)
                cells.append("received \(node.receiveLSN.map(\.description) ?? "-") replayed \(node.replayLSN.map(\.description) ?? "-")")
                if let lag = t.lagBytes(node) { cells.append("lag \(ByteCount.text(lag))") }
                if let delay = node.replayDelaySeconds { cells.append(String(format: "last commit replayed %.1f s ago", delay)) }
                if node.replayPaused == true { cells.append("REPLAY PAUSED") }
                if let primary = t.nodes.first(where: { $0.name == t.primary }), let sync = primary.downstream.first(where: { $0.applicationName == node.name }) {
                    cells.append(sync.syncState)
                }
            }
            lines.append("    " + cells.joined(separator: "  "))
        }
        for d in t.drift { lines.append("  DRIFT: \(d)") }
        // An unreachable node's line already says why.
        for w in t.warnings where !t.nodes.contains(where: { !$0.reachable && w.hasPrefix("\($0.name) is unreachable") }) {
            lines.append("  warning: \(w)")
        }
        return lines
    }
}
