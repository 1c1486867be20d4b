import Foundation

/// Checks, before restore writes a byte, that the archive holds the WAL recovery will ask
/// for: every segment from the backup's start to its end, and on to the target where the
/// target can be located (an LSN, or a time compared with when the WAL was archived).
/// A restore point's position is inside WAL, so a named target is left to PostgreSQL, which
/// refuses to finish a recovery that ends before its target.
struct RecoveryReach {
    let inventory: WALInventory
    let archive: WALArchive

    /// The timeline history recovery will follow; throws when WAL is missing.
    func check(_ manifest: BackupManifest, target: RecoveryTarget, timeline: String?) async throws -> TimelineHistory {
        let history = try inventory.history(from: manifest.timeline, stop: manifest.stopLSN, requested: timeline)
        let first = inventory.segmentNumber(of: manifest.startLSN)
        let stop = inventory.segmentNumber(of: manifest.stopLSN)
        if let missing = inventory.firstMissing(from: first, through: stop, on: history) {
            throw VaultError(.notFound, "WAL segment \(inventory.fileName(segment: missing, on: history)), needed to make backup \(manifest.id) consistent, is not in the archive of shard \(inventory.shard)")
        }
        switch target {
        case .lsn(let lsn):
            let needed = inventory.segmentNumber(of: lsn)
            if let missing = inventory.firstMissing(from: stop, through: needed, on: history) {
                throw VaultError(.refused, "the archive of shard \(inventory.shard) does not reach \(target): segment \(inventory.fileName(segment: missing, on: history)) is not archived (yet)")
            }
        case .time(let date, _):
            let last = inventory.lastContinuous(from: stop, on: history) ?? stop
            let name = inventory.fileName(segment: last, on: history)
            var archived: Date?
            if let file = WALFileName(name) { archived = try await archive.repository.storage.modified(archive.objectName(file)) }
            if let archived, archived < date {
                throw VaultError(.refused, "the archive of shard \(inventory.shard) does not reach \(target): its WAL runs unbroken to segment \(name), archived at \(Timestamp.format(archived)); wait for the next segment to be archived (or run 'vault check' to force one), or choose an earlier time")
            }
        case .endOfWAL, .immediate, .name:
            break
        }
        return history
    }
}
