import VaultSystem

/// What a restored directory is told about recovery: `restore_command` calling vault, the
/// target, and either `recovery.signal` (recover, then stop or promote) or `standby.signal`
/// with `primary_conninfo` (follow the shard's primary as a streaming replica).
struct RecoverySettings {
    var vaultPath: String
    var policyPath: String
    var shard: String
    var target: RecoveryTarget
    var targetAction: String
    var targetTimeline: String?
    var port: Int?
    /// The primary's conninfo when restoring a standby.
    var primaryConninfo: String?

    /// The lines appended to postgresql.auto.conf.
    var lines: [String] {
        var lines = [
            "",
            "# Added by vault restore",
            "restore_command = \(ConfigValue.quoted(Self.restoreCommand(vaultPath: vaultPath, policyPath: policyPath, shard: shard)))",
        ]
        lines += target.settings
        if target != .endOfWAL { lines.append("recovery_target_action = '\(targetAction)'") }
        if let targetTimeline { lines.append("recovery_target_timeline = '\(targetTimeline)'") }
        if let primaryConninfo { lines.append("primary_conninfo = \(ConfigValue.quoted(primaryConninfo))") }
        if let port { lines.append("port = \(port)") }
        return lines
    }

    /// Appends the settings and writes the signal file.
    func write(into directory: String) throws {
        let auto = directory + "/postgresql.auto.conf"
        let existing = (try? FileIO.read(auto)) ?? []
        try FileIO.writeDurably(auto, existing + Array((lines.joined(separator: "\n") + "\n").utf8), mode: 0o600)
        try FileIO.writeDurably(directory + (primaryConninfo == nil ? "/recovery.signal" : "/standby.signal"), [], mode: 0o600)
    }

    /// restore_command calling this vault with this policy for `shard`, before quoting for
    /// the configuration file (`ConfigValue`).
    static func restoreCommand(vaultPath: String, policyPath: String, shard: String) -> String {
        "\(shellQuoted(vaultPath)) --policy \(shellQuoted(policyPath)) --shard \(shard) archive-get %f %p"
    }

    /// A path as one shell word: as it is when it holds only safe characters, else in double quotes.
    private static func shellQuoted(_ path: String) -> String {
        path.allSatisfy { $0.isLetter || $0.isNumber || "/._-+".contains($0) } ? path : "\"" + path + "\""
    }
}
