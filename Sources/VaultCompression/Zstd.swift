internal import CZstd

/// zstd compression of whole buffers through libzstd's advanced API, reusing one context per
/// instance (context setup is a measurable share of the cost for a 16 MiB WAL segment).
public final class ZstdCompressor {
    private let ctx: OpaquePointer
    public let level: Int32

    /// - Parameters:
    ///   - level: zstd level (1–19; 3 is zstd's default and vault's).
    ///   - workers: libzstd worker threads for one buffer (0 = compress on the calling thread).
    ///   - contentChecksum: end each frame with a checksum of its content (false only to make
    ///     frames like those written before vault added one).
    public init(level: Int32, workers: Int32 = 0, contentChecksum: Bool = true) throws {
        guard let c = ZSTD_createCCtx() else { throw CompressionError(.library, "libzstd: cannot create a compression context") }
        ctx = c
        self.level = level
        try Zstd.check(ZSTD_CCtx_setParameter(ctx, ZSTD_c_compressionLevel, level), "set compression level \(level)")
        // A content checksum (XXH64, a few bytes per frame, about 10 GB/s) that decompression
        // verifies: a guard against decoder faults, where the envelope already guards storage.
        try Zstd.check(ZSTD_CCtx_setParameter(ctx, ZSTD_c_checksumFlag, contentChecksum ? 1 : 0), "set checksum flag")
        if workers > 0 {
            // A libzstd built without threads refuses this; compressing single-threaded is fine.
            _ = ZSTD_CCtx_setParameter(ctx, ZSTD_c_nbWorkers, workers)
        }
    }

    deinit { ZSTD_freeCCtx(ctx) }

    public func compress(_ input: [UInt8]) throws -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var code = 0
        let out = [UInt8](unsafeUninitializedCapacity: bound) { dst, count in
            code = input.withUnsafeBytes { src in
                ZSTD_compress2(ctx, dst.baseAddress, bound, src.baseAddress, src.count)
            }
            count = ZSTD_isError(code) != 0 ? 0 : code
        }
        try Zstd.check(code, "compress")
        return out
    }
}

/// zstd decompression into a buffer of known size (the envelope records the plaintext length).
public final class ZstdDecompressor {
    private let ctx: OpaquePointer

    public init() throws {
        guard let c = ZSTD_createDCtx() else { throw CompressionError(.library, "libzstd: cannot create a decompression context") }
        ctx = c
    }

    deinit { ZSTD_freeDCtx(ctx) }

    /// Whether `frame` starts a zstd frame that carries a content checksum (frame header
    /// descriptor, bit 2, after the 4-byte magic 0xFD2FB528).
    public static func hasContentChecksum(_ frame: [UInt8]) -> Bool {
        frame.count > 4 && frame[0] == 0x28 && frame[1] == 0xB5 && frame[2] == 0x2F && frame[3] == 0xFD && frame[4] & 0x04 != 0
    }

    /// Decompresses `input`, which must expand to exactly `expectedSize` bytes; anything else is
    /// reported as corruption of `what`.
    public func decompress(_ input: ArraySlice<UInt8>, expectedSize: Int, what: String) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: expectedSize)
        let result = out.withUnsafeMutableBytes { dst in
            input.withUnsafeBytes { src in
                ZSTD_decompressDCtx(ctx, dst.baseAddress, dst.count, src.baseAddress, src.count)
            }
        }
        if ZSTD_isError(result) != 0 {
            throw CompressionError(.corrupt, "\(what) does not decompress: \(Zstd.errorName(result))")
        }
        guard result == expectedSize else {
            throw CompressionError(.corrupt, "\(what) decompressed to \(result) bytes, expected \(expectedSize)")
        }
        return out
    }
}

/// The one checker for libzstd return codes.
enum Zstd {
    @discardableResult
    static func check(_ code: Int, _ operation: String) throws -> Int {
        if ZSTD_isError(code) != 0 {
            throw CompressionError(.library, "libzstd: \(operation) failed: \(errorName(code))")
        }
        return code
    }

    static func errorName(_ code: Int) -> String {
        guard let name = ZSTD_getErrorName(code) else { return "unknown error" }
        return String(cString: name)
    }
}
