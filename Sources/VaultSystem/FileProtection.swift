#if canImport(Glibc)
import Glibc
#endif

/// What the permissions of a file vault trusts must keep out. The policy names commands vault
/// runs and where it writes, a credentials file and a passphrase file unlock the repository:
/// anyone else who could change one could make vault act for them, and anyone who can read a
/// passphrase can read every backup. Checked on the open descriptor, so the file judged is
/// the file read.
public enum FileProtection: Sendable {
    /// Only its owner may write it (the policy).
    case writableByOwnerOnly
    /// Only its owner may read or write it (a passphrase or S3 credentials file).
    case privateToOwner

    /// What is wrong with a file of mode `mode` at `path`, naming the command that fixes it;
    /// nil when nothing is.
    public func problem(mode: mode_t, path: String) -> String? {
        let bits = mode & 0o777
        let octal = "0" + String(bits, radix: 8)
        switch self {
        case .writableByOwnerOnly where bits & 0o022 != 0:
            return "\(path) is writable by \(Self.who(bits & 0o022, group: 0o020)) (mode \(octal)); run: chmod go-w \(path)"
        case .privateToOwner where bits & 0o077 != 0:
            return "\(path) can be read or written by \(Self.who(bits & 0o077, group: 0o070)) (mode \(octal)); run: chmod 600 \(path)"
        default:
            return nil
        }
    }

    private static func who(_ bits: mode_t, group: mode_t) -> String {
        switch (bits & group != 0, bits & ~group != 0) {
        case (true, true): "its group and others"
        case (true, false): "its group"
        default: "others"
        }
    }
}
