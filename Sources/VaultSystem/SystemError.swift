#if canImport(Glibc)
import Glibc
#endif

/// A system call that failed, classified by what the operator can do about it.
///
/// Only this layer sees `errno`. A missing file is `.notFound` here, and it is up to the layer
/// above to say what that means: a missing WAL object is "not archived" only when the storage
/// layer says so, never because some path on the way did not exist.
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// ENOENT: the path does not exist.
        case notFound
        /// EACCES, EPERM, EROFS: the operating system refused.
        case denied
        /// ENOSPC, EDQUOT: the file system is full.
        case noSpace
        /// A name that the system does not know (a user, a program).
        case invalidArgument
        /// Any other failure of the call.
        case io

        /// The kind of failure `errno` value `code` is.
        public init(errno code: Int32) {
            switch code {
            case ENOENT: self = .notFound
            case EACCES, EPERM, EROFS: self = .denied
            case ENOSPC, EDQUOT: self = .noSpace
            default: self = .io
            }
        }
    }

    public let kind: Kind
    public let message: String
    /// The `errno` value, when a system call reported one.
    public let code: Int32?

    public init(_ kind: Kind, _ message: String, code: Int32? = nil) {
        self.kind = kind
        self.message = message
        self.code = code
    }

    /// The error for `errno` value `code` from the operation `what` ("open /x").
    public init(_ what: String, errno code: Int32) {
        self.init(Kind(errno: code), "cannot \(what): \(String(cString: strerror(code)))", code: code)
    }

    public var description: String { message }
}
