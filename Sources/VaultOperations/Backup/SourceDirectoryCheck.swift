import Foundation
import VaultSystem
import VaultPostgres

/// Proves that the directory a backup is about to read belongs to the server it labels.
///
/// vault reads files from the local file system but learns the backup label from a libpq
/// session: if the policy's `pgdata`, or the server's own `data_directory`, names another
/// cluster on this host (or a path that is not there), the files of the wrong cluster would be
/// stored under the right label. Before pg_backup_start, the directory must hold the same
/// system identifier in its pg_control and, in its postmaster.pid, the port the server answers on.
enum SourceDirectoryCheck {
    static func verify(_ pgdata: String, node: String, identity: ClusterIdentity, port: String) async throws {
        let control: ControlFile
        do {
            control = try await ControlFile.read(dataDirectory: pgdata, attempts: 5)
        } catch let e {
            throw OperationError(.refused, "node \(node): cannot prove \(pgdata) is its data directory: \(e)")
        }
        guard control.systemIdentifier == identity.systemIdentifier else {
            throw OperationError(.refused, "node \(node): \(pgdata) holds cluster \(control.systemIdentifier), but the node is cluster \(identity.systemIdentifier); set the node's pgdata in the policy to its own data directory")
        }
        let pidFile = pgdata + "/postmaster.pid"
        guard let bytes = try FileIO.readIfExists(pidFile) else {
            throw OperationError(.refused, "node \(node): \(pgdata) has no postmaster.pid, so no running server uses it here; set the node's pgdata in the policy to its own data directory on this host")
        }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let pidPort = lines.count > 3 ? lines[3].trimmingCharacters(in: .whitespaces) : ""
        guard pidPort == port else {
            throw OperationError(.refused, "node \(node): \(pgdata) is used by the server on port \(pidPort.isEmpty ? "?" : pidPort), but the node answers on port \(port); set the node's pgdata in the policy to its own data directory on this host")
        }
    }
}
