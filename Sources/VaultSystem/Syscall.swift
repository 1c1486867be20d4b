#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The one place system calls are made from: retries EINTR and turns a failure into a
/// `SystemError` that names the operation, the path and the system's reason.
public enum Syscall {
    @discardableResult
    public static func call<T: BinaryInteger>(_ what: @autoclosure () -> String, _ body: () -> T) throws -> T {
        while true {
            let r = body()
            if r >= 0 { return r }
            let e = errno
            if e == EINTR { continue }
            throw error(what(), errno: e)
        }
    }

    public static func error(_ what: String, errno e: Int32) -> SystemError {
        SystemError(what, errno: e)
    }

    public static var currentErrno: Int32 { errno }
}
