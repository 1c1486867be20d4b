import Testing
@testable import VaultSupport
@testable import VaultCrypto
@testable import VaultCompression
@testable import VaultPostgres
@testable import VaultFormat

@Suite("object envelope: every object is authenticated")
struct EnvelopeTests {
    let payload = Array((0..<200_000).map { UInt8(truncatingIfNeeded: $0 * 7 / 3) })

    func encrypted() throws -> ObjectEnvelope {
        ObjectEnvelope(key: DataKey(id: try SecureRandom.bytes(8), key: try SymmetricKey.random()), compressionLevel: 3)
    }

    @Test("encrypted and plain envelopes round-trip", arguments: [true, false])
    func roundTrip(encrypt: Bool) throws {
        let env = encrypt ? try encrypted() : ObjectEnvelope(key: nil, compressionLevel: 3)
        let sealed = try env.seal(payload, name: "main/wal/00000001/000000010000000000000001")
        #expect(sealed.count < payload.count, "compressible data must be stored compressed")
        #expect(try env.open(sealed, name: "main/wal/00000001/000000010000000000000001") == payload)
    }

    @Test("two seals of the same data use different nonces")
    func freshNonce() throws {
        let env = try encrypted()
        let a = try env.seal(payload, name: "n"), b = try env.seal(payload, name: "n")
        #expect(a[16..<28] != b[16..<28])
        #expect(a != b)
    }

    @Test("zstd frames carry a content checksum: a changed literal byte fails decompression instead of giving other bytes of the same length")
    func zstdContentChecksum() throws {
        // Text with few repeats, so most of the frame is literals that decode to the same
        // length when one of them changes.
        var text: [UInt8] = []
        var x: UInt32 = 12345
        for _ in 0..<100_000 { x = x &* 1_103_515_245 &+ 12345; text.append(UInt8(97 + (x >> 16) % 26)) }
        let frame = try ZstdCompressor(level: 3).compress(text)
        // Frame header descriptor (after the 4-byte magic): bit 2 is the checksum flag.
        #expect(frame[4] & 0x04 != 0)
        var damaged = frame
        damaged[frame.count / 2] ^= 0x01
        #expect(throws: CompressionError.self) {
            _ = try ZstdDecompressor().decompress(damaged[...], expectedSize: text.count, what: "test frame")
        }
        #expect(try ZstdDecompressor().decompress(frame[...], expectedSize: text.count, what: "test frame") == text)
    }

    @Test("an object says whether its content was checked: stored as is or framed with a checksum yes, an older frame without one no", arguments: [true, false])
    func contentCheckReported(encrypt: Bool) throws {
        let envelope = encrypt ? try encrypted() : ObjectEnvelope(key: nil, compressionLevel: 3)
        let older = try ObjectEnvelope.prepare(payload, level: 3, compressor: ZstdCompressor(level: 3, contentChecksum: false))
        let opened = [try ObjectEnvelope.prepare(payload, level: 3), older, try ObjectEnvelope.prepare(payload, level: 0)].map {
            try? envelope.openReportingContentCheck(try envelope.seal($0, name: "p@0"), name: "p@0")
        }
        #expect(opened.map { $0?.plaintext == payload } == [true, true, true])
        #expect(opened.map { $0?.contentChecked } == [true, false, true])
    }

    @Test("a flipped bit anywhere is detected", arguments: [true, false])
    func flip(encrypt: Bool) throws {
        let env = encrypt ? try encrypted() : ObjectEnvelope(key: nil, compressionLevel: 3)
        let sealed = try env.seal(payload, name: "obj")
        for offset in [0, 5, 9, 20, 30, ObjectEnvelope.headerSize, sealed.count / 2, sealed.count - 1] {
            var bad = sealed
            bad[offset] ^= 0x10
            #expect(throws: FormatError.self, "flip at \(offset)") { try env.open(bad, name: "obj") }
        }
    }

    @Test("a truncated object is detected", arguments: [true, false])
    func truncate(encrypt: Bool) throws {
        let env = encrypt ? try encrypted() : ObjectEnvelope(key: nil, compressionLevel: 3)
        let sealed = try env.seal(payload, name: "obj")
        for length in [0, 10, ObjectEnvelope.headerSize, sealed.count - 1] {
            let e = #expect(throws: FormatError.self) { try env.open(Array(sealed.prefix(length)), name: "obj") }
            #expect(e?.kind == .corrupt)
        }
    }

    @Test("an object copied under another name is detected", arguments: [true, false])
    func swappedName(encrypt: Bool) throws {
        let env = encrypt ? try encrypted() : ObjectEnvelope(key: nil, compressionLevel: 3)
        let sealed = try env.seal(payload, name: "main/wal/00000001/000000010000000000000001")
        let e = #expect(throws: FormatError.self) { try env.open(sealed, name: "main/wal/00000001/000000010000000000000002") }
        #expect(e?.kind == .corrupt)
    }

    @Test("an encrypted repository refuses a plaintext object")
    func plaintextPlanted() throws {
        let planted = try ObjectEnvelope(key: nil, compressionLevel: 0).seal(payload, name: "obj")
        let e = #expect(throws: FormatError.self) { try encrypted().open(planted, name: "obj") }
        #expect(e?.message.contains("not encrypted") == true)
    }

    @Test("an object under another key is named as such")
    func otherKey() throws {
        let sealed = try encrypted().seal(payload, name: "obj")
        let e = #expect(throws: FormatError.self) { try encrypted().open(sealed, name: "obj") }
        #expect(e?.kind == .wrongKey)
    }

    @Test("uncompressed level 0 still authenticates")
    func levelZero() throws {
        let env = ObjectEnvelope(key: nil, compressionLevel: 0)
        let sealed = try env.seal(payload, name: "obj")
        #expect(sealed.count == ObjectEnvelope.headerSize + payload.count + 32)
        #expect(try env.open(sealed, name: "obj") == payload)
    }
}

@Suite("zstd")
struct ZstdTests {
    @Test("round trip, including multi-threaded compression and empty input")
    func roundTrip() throws {
        let data = Array((0..<(5 << 20)).map { UInt8(truncatingIfNeeded: ($0 / 13) &* 31) })
        for workers: Int32 in [0, 2] {
            let c = try ZstdCompressor(level: 3, workers: workers).compress(data)
            #expect(c.count < data.count / 4)
            #expect(try ZstdDecompressor().decompress(c[...], expectedSize: data.count, what: "x") == data)
        }
        let empty = try ZstdCompressor(level: 3).compress([])
        #expect(try ZstdDecompressor().decompress(empty[...], expectedSize: 0, what: "x") == [])
    }

    @Test("a wrong expected size or garbage is reported as corruption")
    func corrupt() throws {
        let c = try ZstdCompressor(level: 3).compress(Array(repeating: 7, count: 1000))
        let short = #expect(throws: CompressionError.self) { try ZstdDecompressor().decompress(c[...], expectedSize: 999, what: "x") }
        #expect(short?.kind == .corrupt)
        let garbage = #expect(throws: CompressionError.self) { try ZstdDecompressor().decompress([1, 2, 3, 4, 5][...], expectedSize: 10, what: "x") }
        #expect(garbage?.kind == .corrupt)
    }
}
