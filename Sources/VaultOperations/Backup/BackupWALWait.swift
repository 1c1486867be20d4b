import Foundation
import VaultPostgres
import VaultFormat

/// Waits for the WAL a backup needs (its start segment through its stop segment) to be in the
/// repository. Segments arrive in order, so each poll resumes at the first one still missing.
/// Polls start at 10 ms and back off to half a second: a local archive_command usually lands
/// the stop segment within a few tens of milliseconds of the switch.
struct BackupWALWait {
    let repository: Repository
    let record: ShardRecord
    let timeline: UInt32
    let last: UInt64
    private let archive: WALArchive
    private var missing: UInt64

    init(repository: Repository, record: ShardRecord, timeline: UInt32, from: String, to: String) {
        self.repository = repository
        self.record = record
        self.timeline = timeline
        let a = WALFileName(from)?.segmentNumber(segmentSize: record.walSegmentSize) ?? 0
        let b = WALFileName(to)?.segmentNumber(segmentSize: record.walSegmentSize) ?? a
        last = max(a, b)
        missing = a
        archive = WALArchive(repository: repository, record: record)
    }

    /// Whether every segment is in the repository now (advancing past those that are).
    mutating func isComplete() async throws -> Bool {
        while missing <= last {
            guard let name = WALFileName(WALFileName.segment(timeline: timeline, number: missing, segmentSize: record.walSegmentSize)),
                  try await repository.storage.exists(archive.objectName(name)) else { return false }
            missing += 1
        }
        return true
    }

    /// The first segment not yet seen in the repository.
    var firstMissing: String {
        WALFileName.segment(timeline: timeline, number: missing, segmentSize: record.walSegmentSize)
    }

    /// Polls until every segment is there or `seconds` have passed; returns whether complete.
    /// Says every 30 s which segment it is still waiting for.
    mutating func wait(seconds: Int, progress: (String) -> Void) async throws -> Bool {
        let started = Date()
        let deadline = started.addingTimeInterval(TimeInterval(seconds))
        var pause: UInt64 = 10_000_000
        var nextReport = started.addingTimeInterval(30)
        while Date() < deadline {
            if try await isComplete() { return true }
            if Date() >= nextReport {
                progress("still waiting for \(firstMissing) to reach the repository (\(Int(Date().timeIntervalSince(started))) s of \(seconds) s)")
                nextReport = nextReport.addingTimeInterval(30)
            }
            try await Task.sleep(nanoseconds: pause)
            pause = min(pause * 2, 500_000_000)
        }
        return try await isComplete()
    }
}
