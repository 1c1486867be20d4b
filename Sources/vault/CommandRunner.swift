import ArgumentParser
import Foundation
import VaultSupport
import VaultPolicy
import VaultOperations

/// Runs a command body and turns any failure into one `error:` line on stderr and the
/// error's exit code: operators never see a stack trace for their own mistakes.
enum CommandRunner {
    static func run(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let e as ExitCode {
            throw e
        } catch {
            fail("\(error)", code: ExitStatus.of(error).rawValue)
        }
    }

    static func fail(_ message: String, code: Int32) -> Never {
        Interruption.waitForExit()
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        exit(code)
    }
}

/// Prints a value as stable, sorted JSON on stdout.
func printJSON<T: Encodable>(_ value: T) throws {
    FileHandle.standardOutput.write(Data(try JSONCoding.encode(value)))
}
