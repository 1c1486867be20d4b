import VaultSupport

/// A failure of the repository format: objects, keys, manifests, the WAL archive.
///
/// `.corrupt` and `.wrongKey` are kept apart here, where it is known which one a failed tag
/// means: an object whose tag fails under the repository's key is corrupt, a key file that does
/// not unwrap is a wrong passphrase.
public typealias FormatError = LayerError<FormatErrorKind>

/// The kinds of `FormatError`.
public enum FormatErrorKind: Sendable, Equatable {
    /// An object failed authentication, its checksum or its own structure.
    case corrupt
    /// The passphrase does not unwrap the key, or an object was sealed under another key.
    case wrongKey
    /// A key is needed and none is configured, or one is configured and the repository
    /// has none.
    case keyMismatch
    /// The repository, a shard or an archived file asked for does not exist.
    case notFound
    /// Refused to protect what is stored: an existing repository or key, another cluster's
    /// WAL, different content under an archived name, an unsupported format.
    case refused
    /// A value given by the caller that cannot name anything (a timeline that is not a number).
    case invalidArgument
}
