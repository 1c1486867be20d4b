import VaultSupport
import VaultPostgres
import VaultFormat

/// `vault verify`, step one: every object a backup needs exists, decrypts and matches its
/// checksum: the packs (each extent read, authenticated and hashed, in parallel), and the
/// WAL from the backup's start to its end, or on to the target, across timeline history.
/// Lists every problem instead of stopping at the first.
struct RepositoryVerifier {
    struct Report: Sendable {
        /// Problems listed before the rest are only counted: a backup missing every pack of
        /// 10 TB is reported in bounded memory, and no one reads 160,000 lines anyway.
        static let maxListed = 1_000
        private var found: [RepositoryProblem] = []
        private var unlisted = 0
        var packs = 0
        var extents = 0
        var walFiles = 0
        var bytesRead: Int64 = 0

        /// The problems found, with one more saying how many were not listed.
        var problems: [RepositoryProblem] {
            unlisted == 0 ? found : found + [RepositoryProblem("repository check", "\(unlisted) more problem\(unlisted == 1 ? "" : "s") found and not listed (at most \(Self.maxListed) are)")]
        }

        mutating func add(_ problem: RepositoryProblem) {
            if found.count < Self.maxListed { found.append(problem) } else { unlisted += 1 }
        }

        mutating func add(contentsOf problems: [RepositoryProblem]) {
            for problem in problems { add(problem) }
        }
    }

    let repository: Repository
    let archive: WALArchive
    let inventory: WALInventory
    let parallel: Int

    /// Checks the backup's body one manifest chunk at a time, so memory holds one chunk's
    /// extents (plus the size of each pack seen), however large the backup.
    func verify(_ head: BackupHead, target: RecoveryTarget, timeline: String?) async throws -> Report {
        var report = Report()
        var packs = PackSizes()
        do {
            try await repository.forEachChunk(of: head) { part in
                try await verifyExtents(of: part, packs: &packs, into: &report)
            }
        } catch let e as FormatError where e.kind == .corrupt {
            report.add(Self.unreadable(head, e.message))
        } catch let e as CodingError {
            report.add(Self.unreadable(head, e.message))
        }
        report.packs = packs.sizes.count
        return try await verifyWAL(head, target: target, timeline: timeline, into: report)
    }

    /// A body that cannot be read, filed under the backup's manifest (the message names the
    /// chunk).
    private static func unreadable(_ head: BackupHead, _ why: String) -> RepositoryProblem {
        RepositoryProblem(BackupManifest.objectName(shard: head.shard, id: head.id), why)
    }

    /// Sizes of the packs looked up so far, and those already reported missing or short.
    private struct PackSizes {
        var sizes: [String: Int64?] = [:]
        var reported: Set<String> = []
    }

    /// Packs: present and long enough, then every extent of `manifest` read (in runs) and
    /// checked.
    private func verifyExtents(of manifest: BackupManifest, packs: inout PackSizes, into report: inout Report) async throws {
        let origin = "backup \(manifest.id) of shard \(manifest.shard)"
        for file in manifest.files {
            if let bad = file.pieces.first(where: { $0.extent < 0 || $0.extent >= manifest.extents.count }) {
                report.add(RepositoryProblem(BackupManifest.objectName(shard: manifest.shard, id: manifest.id),
                                                         "\(file.path) refers to extent \(bad.extent), which the manifest does not list"))
            }
        }
        var readable: [Int] = []
        let byPack = Dictionary(grouping: manifest.extents.indices, by: { manifest.extents[$0].pack })
        for (pack, indices) in byPack.sorted(by: { $0.key < $1.key }) {
            let needed = indices.map { manifest.extents[$0].offset + manifest.extents[$0].storedLength }.max() ?? 0
            if packs.sizes[pack] == nil { packs.sizes[pack] = .some(try await repository.storage.size(pack)) }
            guard let size = packs.sizes[pack] ?? nil else {
                if packs.reported.insert(pack).inserted { report.add(RepositoryProblem(pack, "missing (needed by \(origin))")) }
                continue
            }
            if size < needed {
                if packs.reported.insert(pack).inserted {
                    report.add(RepositoryProblem(pack, "truncated: \(size) bytes, but \(origin) reads up to byte \(needed)"))
                }
                continue
            }
            readable += indices
        }
        let work = WorkQueue(ExtentRun.plan(readable, extents: manifest.extents))
        let repository = self.repository
        let extents = manifest.extents
        let results = try await withThrowingTaskGroup(of: ([RepositoryProblem], Int, Int64).self) { group in
            for _ in 0..<max(1, parallel) {
                group.addTask {
                    var problems: [RepositoryProblem] = []
                    var count = 0
                    var bytes: Int64 = 0
                    while let run = work.next() {
                        let data: [UInt8]
                        do {
                            data = try await run.fetch(repository)
                        } catch let e {
                            problems.append(RepositoryProblem(run.pack, "cannot read bytes \(run.offset)+\(run.length): \(e)"))
                            continue
                        }
                        bytes += Int64(data.count)
                        for index in run.members {
                            do {
                                _ = try run.open(extents[index], in: data, repository: repository, checkHash: true)
                                count += 1
                            } catch let e {
                                problems.append(RepositoryProblem(run.pack, "extent at offset \(extents[index].offset): \(e)"))
                            }
                        }
                    }
                    return (problems, count, bytes)
                }
            }
            var all: [([RepositoryProblem], Int, Int64)] = []
            for try await r in group { all.append(r) }
            return all
        }
        for (problems, count, bytes) in results {
            report.add(contentsOf: problems.sorted { ($0.object, $0.problem) < ($1.object, $1.problem) })
            report.extents += count
            report.bytesRead += bytes
        }
    }

    /// WAL: continuous over the needed range, and every segment authenticates.
    private func verifyWAL(_ head: BackupHead, target: RecoveryTarget, timeline: String?, into report: Report) async throws -> Report {
        var report = report
        let plan: RecoveryReach.Plan
        do {
            plan = try await RecoveryReach(inventory: inventory, archive: archive).plan(head, target: target, timeline: timeline)
        } catch let e {
            report.add(RepositoryProblem("shard \(head.shard)", "\(e)"))
            return report
        }
        report.add(contentsOf: plan.problems)
        for n in plan.segments where inventory.contains(segment: n, on: plan.history) {
            guard let file = WALFileName(inventory.fileName(segment: n, on: plan.history)) else { continue }
            do {
                let bytes = try await archive.get(file)
                try archive.checkSegment(file, bytes)
                report.walFiles += 1
                report.bytesRead += Int64(bytes.count)
            } catch let e {
                report.add(RepositoryProblem(archive.objectName(file), "\(e)"))
            }
        }
        return report
    }
}
