#if canImport(Glibc)
import Glibc
#endif
import VaultSystem

/// Recovery and standby settings a restored directory inherits from its source.
///
/// A backup of a cluster that was itself restored (or was a standby) carries that earlier
/// recovery's settings in `postgresql.auto.conf`: a `recovery_target_time` left there makes
/// PostgreSQL refuse a new `--immediate` restore ("multiple recovery targets specified"), and
/// an end-of-WAL restore would silently stop at the old target. Restore therefore removes
/// every such setting, in `postgresql.auto.conf` and `postgresql.conf` of the data directory,
/// before it writes its own. Lines in `postgresql.conf` are commented out, not deleted, so an
/// operator's file keeps its shape; `postgresql.auto.conf` belongs to PostgreSQL and loses them.
enum InheritedRecoverySettings {
    /// Every setting that steers recovery or makes a server follow a primary.
    static let names: Set<String> = [
        "restore_command", "archive_cleanup_command", "recovery_end_command",
        "recovery_target", "recovery_target_lsn", "recovery_target_name", "recovery_target_time", "recovery_target_xid",
        "recovery_target_inclusive", "recovery_target_action", "recovery_target_timeline",
        "primary_conninfo", "primary_slot_name", "promote_trigger_file", "recovery_min_apply_delay", "standby_mode",
    ]

    /// Signal files that would put the copy into recovery or standby mode on their own.
    static let signalFiles = ["recovery.signal", "standby.signal"]

    /// The setting a configuration line assigns (`name = value` or `name value`), lower-cased,
    /// or nil for comments, blank lines and includes.
    static func settingName(_ line: Substring) -> String? {
        let trimmed = line.drop { $0 == " " || $0 == "\t" }
        guard let first = trimmed.first, first.isLetter || first == "_" else { return nil }
        let name = trimmed.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }
        return name.lowercased()
    }

    /// Splits `text` into what stays and the names removed. With `commentOut`, removed lines
    /// stay as comments.
    static func strip(_ text: String, commentOut: Bool) -> (text: String, removed: [String]) {
        var removed: [String] = []
        var out: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            guard let name = settingName(line), names.contains(name) else {
                out.append(line)
                continue
            }
            removed.append(name)
            if commentOut { out.append(Substring("# removed by vault restore: " + line)) }
        }
        return (out.joined(separator: "\n"), removed)
    }

    /// Removes inherited settings and signal files from `directory`; returns what it removed,
    /// as `file: setting` entries, for the operator to read.
    static func remove(from directory: String) throws -> [String] {
        var removed: [String] = []
        for (file, commentOut) in [("postgresql.auto.conf", false), ("postgresql.conf", true)] {
            let path = directory + "/" + file
            guard let bytes = try FileIO.readIfExists(path) else { continue }
            let (text, names) = strip(String(decoding: bytes, as: UTF8.self), commentOut: commentOut)
            guard !names.isEmpty else { continue }
            try FileIO.replaceDurably(path, Array(text.utf8), mode: 0o600)
            removed += names.map { "\(file): \($0)" }
        }
        for signal in signalFiles where FileIO.exists(directory + "/" + signal) {
            try Syscall.call("remove \(directory)/\(signal)") { unlink(directory + "/" + signal) }
            removed.append(signal)
        }
        return removed
    }
}
