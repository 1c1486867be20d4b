import VaultSupport
import VaultCrypto
import VaultCompression

/// The self-describing wrapper around every object vault stores.
///
/// ```
/// 0   magic "VLTO"                 4 bytes
/// 4   format version (1)           1 byte
/// 5   flags: bit0 zstd, bit1 aes   1 byte
/// 6   reserved (0)                 2 bytes
/// 8   key id                       8 bytes (zero when not encrypted)
/// 16  nonce                        12 bytes (zero when not encrypted)
/// 28  plaintext length, LE         8 bytes
/// 36  payload                      compressed and/or encrypted body
/// end trailer                      16-byte GCM tag, or 32-byte SHA-256 when not encrypted
/// ```
/// The header and the object's logical name are authenticated (GCM additional data, or
/// hashed into the SHA-256 trailer), so a flipped bit, a truncation, or an object copied
/// under another name is detected on read.
public struct ObjectEnvelope: Sendable {
    public static let magic: [UInt8] = Array("VLTO".utf8)
    public static let version: UInt8 = 1
    public static let headerSize = 36

    struct Flags: OptionSet {
        let rawValue: UInt8
        static let compressed = Flags(rawValue: 1)
        static let encrypted = Flags(rawValue: 2)
    }

    /// The keys that open objects, the newest of which seals them; nil for an unencrypted
    /// repository.
    public let keyring: Keyring?
    public let compressionLevel: Int32

    public init(keyring: Keyring?, compressionLevel: Int32) {
        self.keyring = keyring
        self.compressionLevel = compressionLevel
    }

    /// An envelope with one key (or none).
    public init(key: DataKey?, compressionLevel: Int32) {
        self.init(keyring: key.map { Keyring(root: $0) }, compressionLevel: compressionLevel)
    }

    /// The key that seals new objects, or nil for an unencrypted repository.
    public var key: DataKey? { keyring?.current }

    /// Wraps `plaintext` for storage under `name`.
    public func seal(_ plaintext: [UInt8], name: String, compressor: ZstdCompressor? = nil) throws -> [UInt8] {
        try seal(try Self.prepare(plaintext, level: compressionLevel, compressor: compressor), name: name)
    }

    /// A payload compressed (when the repository compresses) but not yet sealed. Splitting
    /// the two lets the expensive compression run before the object's name or the key is
    /// known: in parallel with key derivation, or in a worker before a pack slot is chosen.
    public struct PreparedBody: Sendable {
        public var body: [UInt8]
        public var plaintextLength: Int
        public var compressed: Bool
    }

    /// Compresses `plaintext` at `level` (0: stored as is).
    public static func prepare(_ plaintext: [UInt8], level: Int32, compressor: ZstdCompressor? = nil) throws -> PreparedBody {
        guard level > 0 else { return PreparedBody(body: plaintext, plaintextLength: plaintext.count, compressed: false) }
        let c = try compressor ?? ZstdCompressor(level: level)
        return PreparedBody(body: try c.compress(plaintext), plaintextLength: plaintext.count, compressed: true)
    }

    /// Seals a prepared payload under `name`.
    public func seal(_ prepared: PreparedBody, name: String) throws -> [UInt8] {
        var flags: Flags = prepared.compressed ? [.compressed] : []
        var nonce = [UInt8](repeating: 0, count: AESGCM.nonceSize)
        var keyId = [UInt8](repeating: 0, count: DataKey.idSize)
        if let key {
            flags.insert(.encrypted)
            nonce = try SecureRandom.bytes(AESGCM.nonceSize)
            keyId = key.id
        }
        var header = ByteWriter(capacity: Self.headerSize)
        header.append(Self.magic)
        header.append(Self.version)
        header.append(flags.rawValue)
        header.append(UInt16(0))
        header.append(keyId)
        header.append(nonce)
        header.append(UInt64(prepared.plaintextLength))
        var out = header.bytes
        let aad = header.bytes + Array(name.utf8)
        if let key {
            try AESGCM.seal(prepared.body, key: key.key, nonce: nonce, aad: aad, appendingTo: &out)
            // WAL files are counted from the archive's listing instead (archive-push writes no
            // audit record), so not here, where a switchover's pushes would count them twice.
            if !name.contains("/wal/") { EncryptionTally.add(key.idHex) }
        } else {
            out.append(contentsOf: prepared.body)
            let h = try SHA256()
            try h.update(aad)
            try h.update(prepared.body)
            out.append(contentsOf: try h.finalize())
        }
        return out
    }

    /// Checks and unwraps an object read back from storage under `name`.
    public func open(_ object: [UInt8], name: String) throws -> [UInt8] {
        try openReportingContentCheck(object, name: name).plaintext
    }

    /// As `open`, and says whether the plaintext itself was checked on the way out: true for
    /// a body stored as is, or a zstd frame with a content checksum (which decompression
    /// verifies); false for a frame written without one, whose decoder output nothing checks.
    public func openReportingContentCheck(_ object: [UInt8], name: String) throws -> (plaintext: [UInt8], contentChecked: Bool) {
        let what = "object \(name)"
        guard object.count >= Self.headerSize, Array(object[0..<4]) == Self.magic else {
            throw FormatError(.corrupt, "\(what) is not a vault object (bad header)")
        }
        guard object[4] == Self.version else {
            throw FormatError(.corrupt, "\(what) has unsupported format version \(object[4])")
        }
        let flags = Flags(rawValue: object[5])
        let keyId = Array(object[8..<16])
        let nonce = Array(object[16..<28])
        let plainLength = object.readLE(UInt64.self, at: 28)
        guard plainLength <= UInt64(Int.max / 2) else { throw FormatError(.corrupt, "\(what) has an impossible length") }
        let header = Array(object[0..<Self.headerSize])
        let aad = header + Array(name.utf8)
        let sealed = object[Self.headerSize...]
        var body: [UInt8]
        if flags.contains(.encrypted) {
            guard let keyring else {
                throw FormatError(.keyMismatch, "\(what) is encrypted but the repository has no key configured")
            }
            guard let key = keyring.key(id: keyId[...]) else {
                throw FormatError(.wrongKey, "\(what) was encrypted with key \(Hex.encode(keyId)), which this repository does not hold (its keys: \(keyring.keys.map(\.idHex).joined(separator: ", ")))")
            }
            do {
                body = try AESGCM.open(sealed, key: key.key, nonce: nonce, aad: aad, what: what)
            } catch let e as CryptoError where e.kind == .authenticationFailed {
                // Under the repository's own key (the id matched), a failed tag is damage.
                throw FormatError(.corrupt, e.message)
            }
        } else {
            // An encrypted repository never accepts a plaintext object: one could be planted
            // with a valid checksum by anyone who can write to storage.
            guard keyring == nil else {
                throw FormatError(.corrupt, "\(what) is not encrypted, but this repository is")
            }
            guard sealed.count >= SHA256.byteCount else {
                throw FormatError(.corrupt, "\(what) is truncated")
            }
            let payload = sealed.dropLast(SHA256.byteCount)
            let h = try SHA256()
            try h.update(aad)
            try h.update(payload)
            guard try h.finalize() == Array(sealed.suffix(SHA256.byteCount)) else {
                throw FormatError(.corrupt, "\(what) failed its checksum (corrupt, truncated or swapped)")
            }
            body = Array(payload)
        }
        var contentChecked = true
        if flags.contains(.compressed) {
            contentChecked = ZstdDecompressor.hasContentChecksum(body)
            do {
                body = try ZstdDecompressor().decompress(body[...], expectedSize: Int(plainLength), what: what)
            } catch let e as CompressionError where e.kind == .corrupt {
                throw FormatError(.corrupt, e.message)
            }
        } else if body.count != Int(plainLength) {
            throw FormatError(.corrupt, "\(what) has \(body.count) bytes, header says \(plainLength)")
        }
        return (body, contentChecked)
    }
}
