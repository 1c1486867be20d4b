import Foundation

/// Values written into PostgreSQL's configuration: single-quoted, with `'` doubled and `\`
/// escaped, as postgresql.conf and postgresql.auto.conf read them.
enum ConfigValue {
    static func quoted(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// A value as an SQL string literal for `ALTER SYSTEM SET` (standard_conforming_strings,
    /// on since PostgreSQL 9.1, keeps `\` literal there; ALTER SYSTEM escapes it for the file).
    static func sqlLiteral(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "'", with: "''") + "'"
    }
}
