import Foundation

/// Values written into PostgreSQL's configuration: single-quoted, with `'` doubled and `\`
/// escaped, as postgresql.conf and ALTER SYSTEM read them.
enum ConfigValue {
    static func quoted(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "''") + "'"
    }
}
