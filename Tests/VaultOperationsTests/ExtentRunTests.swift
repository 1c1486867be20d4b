import Testing
@testable import VaultFormat
@testable import VaultOperations

@Suite("restore's runs of extents")
struct ExtentRunTests {
    /// An extent of `stored` bytes at `offset` of `pack` (its plaintext does not matter here).
    func extent(_ pack: String, _ offset: Int64, stored: Int64) -> BackupManifest.Extent {
        BackupManifest.Extent(pack: pack, offset: offset, storedLength: stored, rawLength: 1, sha256: "")
    }

    @Test("one read covers neighbours of one pack, across gaps of at most 256 KiB and up to 16 MiB; anything else starts a run")
    func grouping() {
        let mib: Int64 = 1 << 20
        let extents = [
            extent("b", 0, stored: 100),               // 0: pack b, alone (its neighbour is 1 MiB away)
            extent("a", 100, stored: 100),             // 1: run a@0 with 2, listed out of order
            extent("a", 0, stored: 100),               // 2
            extent("a", 200 + (256 << 10), stored: 100), // 3: a gap of exactly 256 KiB: same run
            extent("b", mib, stored: 100),             // 4: gap over 256 KiB: a run of its own
            extent("c", 0, stored: 8 * mib),           // 5: run c@0 with 6, exactly 16 MiB together
            extent("c", 8 * mib, stored: 8 * mib),     // 6
            extent("c", 16 * mib, stored: 1),          // 7: back to back, but past 16 MiB: a new run
        ]
        let runs = ExtentRun.plan(Array(extents.indices), extents: extents)
        #expect(runs.map(\.members) == [[2, 1, 3], [0], [4], [5, 6], [7]])
        #expect(runs.map(\.length) == [300 + (256 << 10), 100, 100, 16 * mib, 1])
        #expect(runs.map(\.offset) == [0, 0, mib, 0, 16 * mib])
    }
}
