internal import CLibPQ

/// libpq is opened the first time vault needs it, not when the process starts: its chain of
/// libraries (Kerberos, LDAP, GnuTLS, ...) is most of a cold start, and archive-push,
/// archive-get and restore, which PostgreSQL and operators run most, never talk to a server.
public enum LibPQ {
    /// Nil once libpq is usable; otherwise why it cannot be opened.
    public static var loadFailure: String? {
        vault_libpq_load().map { "libpq (libpq.so.5) cannot be loaded: \(String(cString: $0)); install the libpq5 package" }
    }

    /// Opens libpq (once per process) or throws why it cannot. Commands that will need a
    /// server later call it before they write anything.
    public static func load() throws {
        if let loadFailure { throw PostgresError(.libraryMissing, loadFailure) }
    }
}
