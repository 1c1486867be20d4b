import ArgumentParser
import VaultSupport
import VaultOperations

struct ExpireCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expire",
        abstract: "Apply the retention policy: remove old backups, then packs and WAL no kept backup needs.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Print what would be removed, remove nothing.")
    var dryRun = false

    @Flag(name: .long, help: "Print JSON (fields documented in the README).")
    var json = false

    @Flag(name: .long, help: "Expire every shard, fleet.parallel at once; one shard's failure does not stop the others.")
    var allShards = false

    func validate() throws {
        try GlobalOptions.checkAllShards(allShards, shard: global.shard)
    }

    func run() async throws {
        try await CommandRunner.run(audited: global) {
            _ = global.logger("expire")
            let policy = try global.loadPolicy()
            let dryRun = self.dryRun
            if allShards {
                try await FleetOutput.run("expire", policy: policy, json: json, text: { Self.lines($0, dryRun: dryRun) }) { shard, _ in
                    try await ExpireOperation(policy: policy, shard: shard).run(dryRun: dryRun)
                }
                return
            }
            let shard = try policy.resolveShard(global.shard)
            let r = try await ExpireOperation(policy: policy, shard: shard).run(dryRun: dryRun)
            if json {
                try printJSON(r)
                return
            }
            for line in Self.lines(r, dryRun: dryRun) { print(line) }
        }
    }

    static func lines(_ r: ExpireOperation.Result, dryRun: Bool) -> [String] {
        let verb = dryRun ? "would remove" : "removed"
        var out = r.expiredBackups.map { "\(verb) backup \($0) of shard \(r.shard)" }
        if !r.unrestorableFulls.isEmpty {
            out.append("not counted toward retention (their WAL is missing or they found bad pages): \(r.unrestorableFulls.joined(separator: ", "))")
        }
        if let v = r.verifiedBackup, r.keptBackups.contains(v) { out.append("keeping backup \(v): the newest one proved restorable by vault verify") }
        if r.abandonedWrites > 0 {
            out.append("\(dryRun ? "would remove" : "removed") \(r.abandonedWrites) unfinished write\(r.abandonedWrites == 1 ? "" : "s") of killed processes (temporary files or multipart uploads older than retention.orphan_grace)")
        }
        if r.keptLeftovers > 0 {
            out.append("keeping \(r.keptLeftovers) pack\(r.keptLeftovers == 1 ? "" : "s") or manifest chunk\(r.keptLeftovers == 1 ? "" : "s") no backup names, younger than retention.orphan_grace (leftovers of an interrupted backup; removed once older)")
        }
        out.append("shard \(r.shard): \(verb) \(r.expiredBackups.count) backup\(r.expiredBackups.count == 1 ? "" : "s"), \(r.removedPacks) pack\(r.removedPacks == 1 ? "" : "s"), \(r.removedWAL) WAL file\(r.removedWAL == 1 ? "" : "s"); \(dryRun ? "would free" : "freed") \(ByteCount.text(r.bytesFreed)); kept \(r.keptBackups.count) backup\(r.keptBackups.count == 1 ? "" : "s")")
        return out
    }
}
