import Foundation
import VaultSystem
import VaultCrypto
import VaultPolicy

/// Obtains the passphrase named by the policy: from a file, an environment variable or a
/// command's standard output. Its text never appears in a message.
public enum PassphraseLoader {
    public static func load(_ settings: EncryptionSettings, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Passphrase? {
        var bytes: [UInt8]
        switch settings {
        case .none:
            return nil
        case .passphraseFile(let path):
            do {
                bytes = try FileIO.read(path, protection: .privateToOwner)
            } catch let e as SystemError {
                throw OperationError(.key, "cannot read the passphrase (encryption.passphrase_file): \(e.message)")
            }
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
        return Passphrase(bytes: bytes)
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
