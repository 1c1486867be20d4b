internal import CLibPQ
import Foundation
import VaultSupport
#if canImport(Glibc)
import Glibc
#endif

/// A libpq connection string, parsed by libpq itself (`PQconninfoParse`), so vault reads
/// `host=a port=5433`, quoted values and `postgresql://` URIs exactly as libpq does.
public struct ConnInfo: Sendable, Equatable {
    /// Every keyword the string sets, with its value.
    public let values: [String: String]

    /// Nil when libpq cannot parse the string (or cannot be loaded: `LibPQ.loadFailure`).
    public init?(_ conninfo: String) {
        guard LibPQ.loadFailure == nil else { return nil }
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = vault_PQconninfoParse(conninfo, &errorMessage) else {
            if let errorMessage { vault_PQfreemem(errorMessage) }
            return nil
        }
        defer { vault_PQconninfoFree(options) }
        var values: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { values[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        self.values = values
    }

    public var host: String? { values["host"] ?? values["hostaddr"] }
    public var port: String? { values["port"] }

    /// The connection string with `keyword` set to `value`, as `keyword='value'` pairs (a
    /// `postgresql://` URI becomes pairs too, since nothing may be appended to a URI).
    public static func setting(_ keyword: String, to value: String, in conninfo: String) -> String {
        var values = ConnInfo(conninfo)?.values ?? [:]
        values[keyword] = value
        return values.sorted { $0.key < $1.key }.map { "\($0.key)=\(quoted($0.value))" }.joined(separator: " ")
    }

    /// A value quoted for a libpq connection string.
    static func quoted(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}
