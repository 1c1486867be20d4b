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
    /// the configuration file (`ConfigValue`). PostgreSQL replaces `%f` and `%p` in it and
    /// reads `%%` as one `%`, so a `%` in a path is doubled; the shell then reads each path
    /// as one word.
    static func restoreCommand(vaultPath: String, policyPath: String, shard: String) -> String {
        "\(commandWord(vaultPath)) --policy \(commandWord(policyPath)) --shard \(commandWord(shard)) archive-get %f %p"
    }

    /// `text` as one shell word inside restore_command: as it is when it holds only safe
    /// characters, else in single quotes (a `'` in it closed, escaped and reopened), with
    /// every `%` doubled for PostgreSQL.
    static func commandWord(_ text: String) -> String {
        let safe = !text.isEmpty && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "/._-+=:,".contains($0)) }
        let word = safe ? text : "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
        return word.replacingOccurrences(of: "%", with: "%%")
    }
}
