import Foundation

/// Values written into PostgreSQL's configuration: single-quoted, with `'` doubled and `\`
/// escaped, as postgresql.conf and postgresql.auto.conf read them.
enum ConfigValue {
    static func quoted(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// A value as an escape string literal (`E'…'`) for `ALTER SYSTEM SET`: read the same
    /// whatever `standard_conforming_strings` says; ALTER SYSTEM escapes it again for the file.
    static func sqlLiteral(_ value: String) -> String {
        "E" + quoted(value)
    }
}
