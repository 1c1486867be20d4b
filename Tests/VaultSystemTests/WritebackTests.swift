import Foundation
import Testing
import VaultSystem

@Suite("write-back started early, made durable once per file system")
struct WritebackTests {
    @Test("one descriptor per file system; files written with early write-back read back whole after syncAndClose")
    func writesAndSyncs() throws {
        let dir = NSTemporaryDirectory() + "vault-writeback-\(UUID().uuidString)"
        try FileIO.makeDirectories(dir + "/sub", mode: 0o700)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The directory and its subdirectory are one file system: one descriptor serves both.
        let sync = try FileSystemSync([dir, dir + "/sub"])
        #expect(sync.count == 1)
        let bytes = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let fd = open(dir + "/sub/file", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        try #require(fd >= 0)
        let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        Writeback.start(fd, offset: 0, length: bytes.count)
        close(fd)
        #expect(written == bytes.count)
        Writeback.start(fd, offset: 0, length: 0) // "to the end of the file" is never asked for
        try sync.syncAndClose()
        #expect(sync.count == 0, "the descriptors are closed")
        // The index of the first wrong byte, not the 3 MiB arrays: a failure stays one short line.
        let back = try FileIO.read(dir + "/sub/file")
        #expect(back.count == bytes.count)
        let firstWrong = firstDifference(back, bytes)
        #expect(firstWrong == nil, "the bytes read back differ from byte \(firstWrong ?? 0)")
    }

    @Test("pwriteAll writes a buffer larger than one write call at an offset, in pieces of at most largestWrite that cover it in order")
    func boundedWrites() throws {
        let dir = NSTemporaryDirectory() + "vault-writeback-\(UUID().uuidString)"
        try FileIO.makeDirectories(dir, mode: 0o700)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Each 4-byte word holds its own index: no piece's bytes equal another's, so writing
        // the wrong part of the buffer fails the comparison below.
        let bytes = (0..<(2 * FileIO.largestWrite + 12_345)).map { UInt8(truncatingIfNeeded: ($0 >> 2) >> (($0 & 3) * 8)) }
        let fd = open(dir + "/file", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        try #require(fd >= 0)
        defer { close(fd) }
        var pieces: [(Int, Int)] = []
        try bytes.withUnsafeBytes { try FileIO.pwriteAll(fd, $0, at: 4096, what: "file") { pieces.append(($0, $1)) } }
        #expect(pieces.count == 3 && pieces.allSatisfy { $0.1 <= FileIO.largestWrite })
        #expect(pieces.map(\.0) == [4096, 4096 + FileIO.largestWrite, 4096 + 2 * FileIO.largestWrite])
        #expect(pieces.reduce(0) { $0 + $1.1 } == bytes.count)
        var back = [UInt8](repeating: 0, count: bytes.count + 10)
        #expect(try FileIO.preadFully(fd, into: &back, at: 4096, what: "file") == bytes.count, "nothing written past the end")
        // The index of the first wrong byte, not the arrays: a failure stays one short line.
        let firstWrong = firstDifference(back, bytes)
        #expect(firstWrong == nil, "the bytes read back differ from byte \(firstWrong ?? 0)")
        #expect(try FileIO.readRange(dir + "/file", offset: 0, length: 4096) == [UInt8](repeating: 0, count: 4096), "nothing before the offset")
    }

    @Test("a path that is missing or not a directory is one error naming it, before anything is written")
    func refusesNonDirectories() throws {
        let dir = NSTemporaryDirectory() + "vault-writeback-\(UUID().uuidString)"
        try FileIO.makeDirectories(dir, mode: 0o700)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileIO.writeDurably(dir + "/plain", [1, 2, 3])
        for path in [dir + "/missing", dir + "/plain"] {
            #expect {
                _ = try FileSystemSync([dir, path])
            } throws: { error in
                String(describing: error).contains(path)
            }
        }
    }

    /// The index of the first byte where `a` and `b` differ, over their common length.
    private func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int? {
        zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset
    }
}
