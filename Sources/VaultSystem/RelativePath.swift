import SystemPackage

/// A path from data vault does not write itself (a manifest, a policy, an archived file name)
/// that is to be joined onto a directory: proved, once, to be plain and relative, so joining it
/// can never leave that directory.
///
/// Plain means: not empty, not absolute, no NUL, and every component a normal name: no empty
/// component (`a//b`), no `.` and no `..`. Such a path resolves lexically inside any root.
public struct RelativePath: Sendable, Hashable, CustomStringConvertible {
    public let path: FilePath

    /// The path, or nil when `text` is not a plain relative path.
    public init?(_ text: String) {
        guard !text.isEmpty, !text.hasPrefix("/"), !text.contains("\0"),
              text.split(separator: "/", omittingEmptySubsequences: false).allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else {
            return nil
        }
        let path = FilePath(text)
        guard path.isRelative, path.components.allSatisfy({ $0.kind == .regular }) else { return nil }
        self.path = path
    }

    public var description: String { path.string }
}

/// A directory that relative paths are joined onto. Joining uses `FilePath`'s lexical
/// resolution, which refuses any result outside the directory, so even a path that skipped
/// validation cannot be written outside it.
public struct ContainedDirectory: Sendable, Hashable, CustomStringConvertible {
    public let root: FilePath

    /// `FilePath` drops a trailing separator, so `/a/` and `/a` name the same root.
    public init(_ root: String) {
        self.root = FilePath(root)
    }

    public var description: String { root.string }

    /// The root's own path, as a string for system calls.
    public var string: String { root.string }

    /// `relative` below the root, or nil when it would resolve outside it.
    public func resolve(_ relative: RelativePath) -> String? {
        root.lexicallyResolving(relative.path)?.string
    }

    /// `relative` below the root; throws when it is not a plain relative path.
    public func path(_ relative: String) throws -> String {
        guard let plain = RelativePath(relative), let resolved = resolve(plain) else {
            throw SystemError(.invalidArgument, "'\(relative)' is not a plain relative path below \(root.string)")
        }
        return resolved
    }
}
