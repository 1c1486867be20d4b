#if canImport(Glibc)
import Glibc
#endif
internal import CLinux

/// Writes that bypass the page cache (O_DIRECT), for a writer of gigabytes that nobody reads
/// back soon (restore). A buffered write copies every byte into freshly allocated page-cache
/// pages, and on a virtual machine whose host backs guest memory lazily that copy, not the
/// disk, is where the time goes; a direct write hands the disk the writer's own buffer.
///
/// Direct I/O wants the buffer, the file offset and the length aligned to the device's
/// logical block size: the writer stages bytes through one aligned buffer of its own (one
/// per thread: it is not Sendable), and only whole, aligned blocks are written this way.
/// Durability is unchanged: the data is on the device when the call returns, but block
/// allocation and the device's cache still need the caller's fsync or syncfs.
public final class DirectWriter {
    /// Alignment of buffer, offsets and lengths: 4 KiB covers every logical block size Linux
    /// file systems use for direct I/O on common devices (512 B or 4 KiB).
    public static let alignment = 4096
    /// Bytes per write call: with no page-cache copy the call's size costs nothing, and larger
    /// calls keep more of the device's queue busy.
    public static let stagingSize = 4 << 20

    private let staging: UnsafeMutableRawPointer
    /// Set by the caller once a file system refused direct I/O (EINVAL at open).
    public var refused = false

    public init() throws {
        var pointer: UnsafeMutableRawPointer?
        let r = posix_memalign(&pointer, Self.alignment, Self.stagingSize)
        guard r == 0, let pointer else { throw SystemError("allocate a direct-write buffer", errno: r) }
        staging = pointer
    }

    deinit { free(staging) }

    /// Whether `length` bytes at file offset `offset` can be written directly.
    public static func fits(offset: Int, length: Int) -> Bool {
        length > 0 && offset % alignment == 0 && length % alignment == 0
    }

    /// `flags` with the page cache bypassed.
    public static func directFlags(_ flags: Int32) -> Int32 { flags | vault_o_direct() }

    /// Writes `bytes` at `offset` through the staging buffer; `fd` was opened with
    /// `directFlags` and the range `fits`.
    public func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, what: String) throws {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let length = min(Self.stagingSize, bytes.count - done)
            staging.copyMemory(from: base + done, byteCount: length)
            var put = 0
            while put < length {
                let n = try Syscall.call("write \(what)") { pwrite(fd, staging + put, length - put, off_t(offset + done + put)) }
                guard n > 0 else { throw SystemError(.io, "cannot write \(what): the file system accepted no bytes") }
                put += n
            }
            done += length
        }
    }
}
