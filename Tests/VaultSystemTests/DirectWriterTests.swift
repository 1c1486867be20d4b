import Foundation
import Testing
import VaultSystem

@Suite("writes past the page cache")
struct DirectWriterTests {
    @Test("only whole, aligned blocks qualify")
    func alignment() {
        #expect(DirectWriter.fits(offset: 0, length: 8192))
        #expect(DirectWriter.fits(offset: 1 << 30, length: 1 << 20))
        #expect(!DirectWriter.fits(offset: 0, length: 0))
        #expect(!DirectWriter.fits(offset: 512, length: 8192))
        #expect(!DirectWriter.fits(offset: 8192, length: 8192 + 100))
    }

    /// On the disk-backed file system the integration tests restore into (ext4 on the CI
    /// machine), which accepts direct I/O: a refusal fails the test rather than passing it
    /// through the page cache unnoticed.
    @Test("a range larger than the staging buffer lands at its offset, bytes around it untouched, none of it in the page cache")
    func writesPastTheCache() throws {
        let dir = "/var/tmp/vault-direct-\(UUID().uuidString)"
        try FileIO.makeDirectories(dir, mode: 0o700)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/file"
        let offset = 3 * DirectWriter.alignment
        let total = offset + DirectWriter.stagingSize + 5 * DirectWriter.alignment + 4096
        try FileIO.writeDurably(path, [UInt8](repeating: 0xEE, count: total))
        // Word indices: no 4-byte word repeats, so a chunk written from the wrong place shows.
        let count = DirectWriter.stagingSize + 5 * DirectWriter.alignment
        var data = [UInt8](repeating: 0, count: count)
        data.withUnsafeMutableBytes { raw in
            for word in 0..<count / 4 { raw.storeBytes(of: UInt32(word).littleEndian, toByteOffset: word * 4, as: UInt32.self) }
        }
        // The file's pages are dropped from the cache, so any that are there afterwards came
        // from a write through it.
        let drop = open(path, O_RDONLY | O_CLOEXEC)
        try #require(drop >= 0)
        fsync(drop)
        posix_fadvise(drop, 0, 0, POSIX_FADV_DONTNEED)
        close(drop)

        let fd = open(path, DirectWriter.directFlags(O_WRONLY | O_CLOEXEC))
        try #require(fd >= 0, "the file system refused O_DIRECT: errno \(errno)")
        let writer = try DirectWriter()
        try data.withUnsafeBytes { try writer.write(fd, $0, at: offset, what: path) }
        close(fd)

        #expect(try residentPages(path, length: total) == 0)
        let back = try FileIO.read(path)
        #expect(back.count == total)
        #expect(back[..<offset].allSatisfy { $0 == 0xEE })
        #expect(back[(offset + count)...].allSatisfy { $0 == 0xEE })
        let firstWrong = zip(back[offset..<offset + count], data).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(firstWrong == nil, "first wrong byte at \(firstWrong ?? -1) of the range")
    }

    /// How many of the file's pages are in the page cache (mincore over a mapping).
    private func residentPages(_ path: String, length: Int) throws -> Int {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        try #require(fd >= 0)
        defer { close(fd) }
        let map = mmap(nil, length, PROT_READ, MAP_SHARED, fd, 0)
        try #require(map != MAP_FAILED)
        defer { munmap(map, length) }
        let pages = (length + 4095) / 4096
        var vector = [UInt8](repeating: 0, count: pages)
        try #require(mincore(map, length, &vector) == 0)
        return vector.filter { $0 & 1 != 0 }.count
    }
}
