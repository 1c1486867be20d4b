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

    func run() async throws {
        try await CommandRunner.run {
            _ = global.logger("expire")
            let policy = try global.loadPolicy()
            let shard = try policy.resolveShard(global.shard)
            let r = try await ExpireOperation(policy: policy, shard: shard).run(dryRun: dryRun)
            if json {
                try printJSON(r)
                return
            }
            let verb = dryRun ? "would remove" : "removed"
            for id in r.expiredBackups { print("\(verb) backup \(id)") }
            if !r.unrestorableFulls.isEmpty {
                print("not counted toward retention (their WAL is missing or they found bad pages): \(r.unrestorableFulls.joined(separator: ", "))")
            }
            if let v = r.verifiedBackup, r.keptBackups.contains(v) { print("keeping backup \(v): the newest one proved restorable by vault verify") }
            print("shard \(shard.name): \(verb) \(r.expiredBackups.count) backup\(r.expiredBackups.count == 1 ? "" : "s"), \(r.removedPacks) pack\(r.removedPacks == 1 ? "" : "s"), \(r.removedWAL) WAL file\(r.removedWAL == 1 ? "" : "s"); \(dryRun ? "would free" : "freed") \(ByteCount.text(r.bytesFreed)); kept \(r.keptBackups.count) backup\(r.keptBackups.count == 1 ? "" : "s")")
        }
    }
}
