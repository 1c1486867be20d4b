import ArgumentParser
import Foundation
import VaultSupport
import VaultSystem
import VaultPolicy
import VaultOperations

/// How a command runs with `--all-shards`: every shard at once up to `fleet.parallel`, a
/// shard's failure its own, a progress line on a terminal, then each shard's lines (or one
/// JSON `FleetReport`), a summary, and the exit code of the first failed shard (policy order).
enum FleetOutput {
    /// `check` turns a result into a failure that keeps the result (a verification that found
    /// problems, a backup whose WAL did not arrive, a drifted topology).
    static func run<R: Encodable & Sendable>(
        _ command: String, policy: Policy, json: Bool, header: String? = nil,
        text: (R) -> [String], check: (R) -> (any Error)? = { _ in nil },
        _ body: @escaping @Sendable (ShardPolicy, FleetRun.Progress) async throws -> R
    ) async throws {
        let progress = FleetRun.Progress(total: policy.shards.count)
        let display = Self.display(command, progress)
        let outcomes = await FleetRun.each(policy.shards, parallel: policy.fleet.parallel, progress: progress) { try await body($0, progress) }
        display.cancel()
        await display.value

        var shards: [FleetReport<R>.Shard] = []
        var lines: [String] = []
        for outcome in outcomes {
            switch outcome.result {
            case .success(let r):
                lines += text(r)
                if let problem = check(r) {
                    shards.append(.init(shard: outcome.shard, ok: false, exit: ExitStatus.of(problem).rawValue, error: "\(problem)", result: r))
                    lines.append("shard \(outcome.shard): FAILED: \(problem)")
                } else {
                    shards.append(.init(shard: outcome.shard, ok: true, exit: nil, error: nil, result: r))
                }
            case .failure(let e):
                shards.append(.init(shard: outcome.shard, ok: false, exit: ExitStatus.of(e).rawValue, error: "\(e)", result: nil))
                lines.append("shard \(outcome.shard): FAILED (exit \(ExitStatus.of(e).rawValue)): \(e)")
            }
        }
        let report = FleetReport(command: command, shards: shards)
        if json {
            try printJSON(report)
        } else {
            if let header { print(header) }
            for line in lines { print(line) }
            let failed = shards.filter { !$0.ok }.map { "\($0.shard) (exit \($0.exit ?? 1))" }
            print("\(command): \(report.succeeded.count) of \(shards.count) shards succeeded" + (failed.isEmpty ? "" : "; failed: \(failed.joined(separator: ", "))"))
        }
        if let first = shards.first(where: { !$0.ok }) { throw ExitCode(first.exit ?? 1) }
    }

    /// `backup: 2/5 shards done, 1 failed, 1.2 GiB` on a terminal, every quarter second.
    private static func display(_ command: String, _ progress: FleetRun.Progress) -> Task<Void, Never> {
        let terminal = isatty(STDERR_FILENO) == 1
        return Task(executorPreference: BlockingExecutor.shared) {
            guard terminal else { return }
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: 250_000_000)
                let failed = progress.failed > 0 ? ", \(progress.failed) failed" : ""
                let bytes = progress.bytes > 0 ? ", \(ByteCount.text(progress.bytes))" : ""
                FileHandle.standardError.write(Data("\r\(command): \(progress.done)/\(progress.total) shards done\(failed)\(bytes)\u{1B}[K".utf8))
            }
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        }
    }
}

extension GlobalOptions {
    /// `--all-shards` and `--shard` name different things.
    static func checkAllShards(_ allShards: Bool, shard: String?) throws {
        if allShards && shard != nil { throw ValidationError("give --shard or --all-shards, not both") }
    }
}
