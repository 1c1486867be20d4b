import Foundation
import VaultSystem
import VaultCrypto
import VaultPolicy
import VaultSupport
import VaultFormat

/// Obtains the secret the policy names: a passphrase from a file, an environment variable or
/// a command's standard output, or 32 random bytes from a key file. Its text never appears
/// in a message.
public enum KeySecretLoader {
    public static func load(_ settings: EncryptionSettings, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> KeySecret? {
        var bytes: [UInt8]
        switch settings {
        case .none:
            return nil
        case .keyFile(let path):
            return .keyMaterial(try keyMaterial(path, setting: "encryption.key_file"))
        case .passphraseFile(let path):
            bytes = try readPrivate(path, setting: "encryption.passphrase_file", what: "the passphrase")
        case .passphraseEnv(let name):
            ChildEnvironment.withhold(name)
            guard let value = environment[name], !value.isEmpty else {
                throw OperationError(.key, "environment variable \(name) (encryption.passphrase_env) is not set")
            }
            bytes = Array(value.utf8)
        case .passphraseCommand(let command):
            bytes = try runCommand(command)
        }
        while let last = bytes.last, last == 0x0a || last == 0x0d { bytes.removeLast() }
        guard !bytes.isEmpty else { throw OperationError(.key, "the passphrase from the policy's encryption settings is empty") }
        return .passphrase(Passphrase(bytes: bytes))
    }

    /// A key file holds exactly 32 random bytes: raw (`openssl rand 32`), or as base64 or hex
    /// text on one line (`openssl rand -base64 32`, `openssl rand -hex 32`). Anything else is
    /// refused, 32 printable characters included: a short or typed key would be far weaker
    /// than the scrypt it replaces.
    public static func keyMaterial(_ path: String, setting: String) throws -> Passphrase {
        var bytes = try readPrivate(path, setting: setting, what: "the key file")
        defer { bytes.withUnsafeMutableBytes { wipe($0) } }
        // 32 raw bytes, unless all printable: random bytes are that with odds of 1 in 10^14,
        // while 32 typed characters are a password, far weaker than the scrypt it would skip.
        if bytes.count == SymmetricKey.byteCount, !bytes.allSatisfy({ (0x20...0x7e).contains($0) }) { return Passphrase(bytes: bytes) }
        var text = bytes
        defer { text.withUnsafeMutableBytes { wipe($0) } }
        while let last = text.last, last == 0x0a || last == 0x0d || last == 0x20 { text.removeLast() }
        let string = String(decoding: text, as: UTF8.self)
        for decoded in [Base64.decode(string), Hex.decode(string)] {
            if let decoded, decoded.count == SymmetricKey.byteCount { return Passphrase(bytes: decoded) }
        }
        throw OperationError(.key, "\(path) (\(setting)) must hold exactly 32 random bytes, raw or as base64 or hex text; make one with `openssl rand 32 > \(path)`")
    }

    private static func wipe(_ buffer: UnsafeMutableRawBufferPointer) {
        for i in buffer.indices { buffer[i] = 0 }
    }

    private static func readPrivate(_ path: String, setting: String, what: String) throws -> [UInt8] {
        do {
            return try FileIO.read(path, protection: .privateToOwner)
        } catch let e as SystemError {
            throw OperationError(.key, "cannot read \(what) (\(setting)): \(e.message)")
        }
    }

    private static func runCommand(_ command: String) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let out = Pipe()
        process.standardOutput = out
        do {
            try process.run()
        } catch {
            throw OperationError(.key, "cannot run encryption.passphrase_command: \(error.localizedDescription)")
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw OperationError(.key, "encryption.passphrase_command exited with status \(process.terminationStatus)")
        }
        return [UInt8](data)
    }
}
