import ArgumentParser
import Dispatch
import Foundation
import Synchronization
import VaultSupport
import VaultPolicy
import VaultOperations

/// Runs a command body and turns any failure into one `error:` line on stderr and the
/// error's exit code: operators never see a stack trace for their own mistakes.
enum CommandRunner {
    /// The options of the state-changing command running now, whose end goes into the
    /// repository's audit trail (also when the command ends through `fail`).
    private static let audited = Mutex<GlobalOptions?>(nil)

    /// Runs `body`; with `audited`, the command's outcome is appended to the audit trail.
    static func run(audited global: GlobalOptions? = nil, _ body: () async throws -> Void) async throws {
        audited.withLock { $0 = global }
        do {
            try await body()
            await recordAudit(exitCode: 0, error: nil)
        } catch let e as ExitCode {
            await recordAudit(exitCode: e.rawValue, error: nil)
            throw e
        } catch {
            fail("\(error)", code: ExitStatus.of(error).rawValue)
        }
    }

    /// Exit codes of failures that changed nothing and leave the repository unreachable or
    /// unnamed (usage, policy, key, I/O): no record is attempted, which would only repeat the
    /// error or wait on the same unreachable store.
    private static let unrecorded = Set([ExitStatus.usage, .policy, .key, .io].map(\.rawValue))

    /// Appends the audited command's record once. One that cannot be written is a warning
    /// after a success, and silent after a failure (whose error already says why); it never
    /// changes the outcome.
    private static func recordAudit(exitCode: Int32, error: String?) async {
        guard let global = audited.withLock({ value -> GlobalOptions? in defer { value = nil }; return value }),
              !unrecorded.contains(exitCode), let policy = try? global.loadPolicy() else { return }
        let shard = global.shard ?? (policy.shards.count == 1 ? policy.shards.first?.name : nil)
        if let problem = await AuditTrail.append(policy: policy, shard: shard, exitCode: exitCode, error: error), exitCode == 0 {
            FileHandle.standardError.write(Data("warning: the audit record was not written: \(problem)\n".utf8))
        }
    }

    static func fail(_ message: String, code: Int32) -> Never {
        // `fail` is synchronous and ends the process: the record is written on a task of its
        // own, waited for here (commands run on the blocking executor, not the cooperative pool).
        if audited.withLock({ $0 != nil }) {
            let done = DispatchSemaphore(value: 0)
            Task {
                await recordAudit(exitCode: code, error: message)
                done.signal()
            }
            done.wait()
        }
        Interruption.waitForExit()
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        exit(code)
    }
}

/// Prints a value as stable, sorted JSON on stdout.
func printJSON<T: Encodable>(_ value: T) throws {
    FileHandle.standardOutput.write(Data(try JSONCoding.encode(value)))
}
