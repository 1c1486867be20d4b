import Testing
@testable import VaultSupport
@testable import VaultCrypto
@testable import VaultCompression
@testable import VaultPostgres
@testable import VaultFormat

@Suite("timeline histories and WAL continuity")
struct TimelineTests {
    let mb16: UInt64 = 16 << 20

    /// Timeline 1 → 2 at 0/5000028 (inside segment 5) → 3 at 0/9000000 (a segment boundary).
    var history3: TimelineHistory {
        get throws {
            try #require(TimelineHistory(timeline: 3, text: "1\t0/5000028\tno recovery target specified\n\n2\t0/9000000\tbefore 2026-11-26 03:00:00+00\n"))
        }
    }

    @Test("history files parse; malformed ones are refused")
    func parse() throws {
        let h = try history3
        #expect(h.ancestors == [.init(timeline: 1, switchpoint: LSN(0x500_0028)), .init(timeline: 2, switchpoint: LSN(0x900_0000))])
        #expect(TimelineHistory(timeline: 2, text: "1\tnot-an-lsn\treason\n") == nil)
        #expect(TimelineHistory(timeline: 2, text: "# comment only\n")?.ancestors == [])
    }

    @Test("each segment is read from the newest timeline that began before it ends")
    func timelineForSegment() throws {
        let h = try history3
        #expect(h.timeline(forSegment: 4, segmentSize: mb16) == 1)
        #expect(h.timeline(forSegment: 5, segmentSize: mb16) == 2, "a switch inside segment 5 puts segment 5 on the new timeline")
        #expect(h.timeline(forSegment: 8, segmentSize: mb16) == 2)
        #expect(h.timeline(forSegment: 9, segmentSize: mb16) == 3)
        #expect(h.descends(from: 1, after: LSN(0x400_0000)))
        #expect(!h.descends(from: 1, after: LSN(0x600_0000)), "a backup of timeline 1 that ends after the switch cannot recover onto 3")
    }

    @Test("continuity follows the chosen timeline and names the first gap")
    func continuity() throws {
        let h = try history3
        let inventory = WALInventory(shard: "main", segmentSize: mb16,
                                     segments: [1: [3, 4, 5, 6], 2: [5, 6, 7, 8], 3: [9, 11]],
                                     histories: [2: TimelineHistory(timeline: 2, text: "1\t0/5000028\tx\n")!, 3: h])
        let latest = try inventory.history(from: 1, stop: LSN(0x300_0100), requested: nil)
        #expect(latest.timeline == 3)
        #expect(inventory.lastContinuous(from: 3, on: latest) == 9)
        #expect(inventory.firstMissing(from: 3, through: 11, on: latest) == 10)
        #expect(inventory.fileName(segment: 10, on: latest) == "00000003000000000000000A")
        let current = try inventory.history(from: 1, stop: LSN(0x300_0100), requested: "current")
        #expect(inventory.lastContinuous(from: 3, on: current) == 6)
        #expect(throws: FormatError.self) { try inventory.history(from: 1, stop: LSN(0x300_0100), requested: "7") }
    }
}
