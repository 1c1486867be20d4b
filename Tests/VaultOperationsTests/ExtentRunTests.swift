import Testing
@testable import VaultFormat
@testable import VaultOperations

@Suite("restore's runs of extents")
struct ExtentRunTests {
    /// An extent stored at `offset` of `pack`, `stored` bytes holding `raw` bytes of plaintext.
    func extent(_ pack: String, _ offset: Int64, stored: Int64, raw: Int64) -> BackupManifest.Extent {
        BackupManifest.Extent(pack: pack, offset: offset, storedLength: stored, rawLength: raw, sha256: "")
    }

    @Test("runs group neighbours of one pack, and the workers take the runs with the most plaintext first")
    func largestPlaintextFirst() {
        let extents = [
            extent("a", 0, stored: 100, raw: 1000),    // run a@0: 1000 + 500
            extent("a", 100, stored: 100, raw: 500),
            extent("a", 17 << 20, stored: 100, raw: 40_000), // past the 16 MiB bound: a run of its own
            extent("b", 0, stored: 100, raw: 2000),    // run b@0, alone: its neighbour is 1 MiB away
            extent("b", 1 << 20, stored: 100, raw: 300),
        ]
        let runs = ExtentRun.plan(Array(extents.indices), extents: extents)
        #expect(runs.map(\.members) == [[0, 1], [2], [3], [4]])
        let ordered = ExtentRun.largestFirst(runs, extents: extents)
        #expect(ordered.map { $0.plainLength(extents) } == [40_000, 2000, 1500, 300])
        #expect(ordered.map(\.members) == [[2], [3], [0, 1], [4]])
    }
}
