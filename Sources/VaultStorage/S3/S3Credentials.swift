import Foundation
import VaultSupport
import VaultSystem

/// Where S3 credentials come from: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
/// optionally `AWS_SESSION_TOKEN` in the environment, or the policy's `credentials_file` in
/// the AWS shared-credentials format (the `[default]` profile, or `key = value` lines with no
/// profile). Never from the policy itself, and never printed.
public enum S3CredentialsLoader {
    public static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SigV4.Credentials {
        if let file {
            let read: [UInt8]?
            do {
                read = try FileIO.readIfExists(file, protection: .privateToOwner)
            } catch let e as SystemError {
                throw StorageError(.credentialsRefused, "S3 credentials file (repository.s3.credentials_file): \(e.message)")
            }
            guard let bytes = read else {
                throw StorageError(.credentialsRefused, "S3 credentials file \(file) does not exist")
            }
            let values = parse(String(decoding: bytes, as: UTF8.self))
            guard let id = values["aws_access_key_id"], let secret = values["aws_secret_access_key"] else {
                throw StorageError(.credentialsRefused, "S3 credentials file \(file) has no aws_access_key_id and aws_secret_access_key (in [default] or without a section)")
            }
            return SigV4.Credentials(accessKey: id, secretKey: secret, sessionToken: values["aws_session_token"])
        }
        guard let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty, let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else {
            throw StorageError(.credentialsRefused, "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or name a credentials_file under repository.s3 in the policy")
        }
        return SigV4.Credentials(accessKey: id, secretKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 })
    }

    /// `key = value` pairs of the `[default]` section, or of lines before any section.
    static func parse(_ text: String) -> [String: String] {
        var section: String?
        var values: [String: String] = [:]
        for raw in text.split(separator: "\n") {
            let line = String(raw).trimmingSpaces()
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast()).trimmingSpaces()
                continue
            }
            guard section == nil || section == "default", let eq = line.firstIndex(of: "=") else { continue }
            values[String(line[..<eq]).trimmingSpaces().lowercased()] = String(line[line.index(after: eq)...]).trimmingSpaces()
        }
        return values
    }
}
