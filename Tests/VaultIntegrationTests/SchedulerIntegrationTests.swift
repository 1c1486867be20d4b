import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import VaultOperations

/// The real daemon (`vault schedule run`) against real PostgreSQL and a real repository.
/// No test waits for a cron minute: the policy's full backup instant lies in the past, so a
/// daemon starting on a repository without that backup runs it once at start-up.
@Suite("scheduler daemon against real PostgreSQL")
struct SchedulerIntegrationTests {
    static let schedule = """
        defaults:
          schedule: {full: "0 2 * * 0"}
        scheduler: {jitter: 0s, drain_timeout: 0s, retries: 0}
        """

    /// Starts the daemon as the postgres user; its JSON lines and errors go to `log`.
    static func startDaemon(_ f: VaultFixture, log: String, metricsPort: UInt16? = nil) throws -> pid_t {
        let metrics = metricsPort.map { ["--metrics-listen", "127.0.0.1:\($0)"] } ?? []
        return try ProcessRunner.spawnAsPostgres([VaultBinary.path, "--policy", f.policyFile, "schedule", "run"] + metrics, logTo: log)
    }

    /// The log's JSON lines whose event is `event`.
    static func lines(_ log: String, event: String) -> [[String: Any]] {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }.filter { $0["event"] as? String == event }
    }

    /// A PostgreSQL 15 shard with pgbench scale 15 and the weekly full schedule; the sum
    /// of its accounts, for the restore.
    static func scheduledShard(_ name: String) throws -> (VaultFixture, String?) {
        let f = try VaultFixture(name)
        let server = try f.startServer(.v15)
        try f.writePolicy(server: server, extra: Self.schedule + "\nverify: {scratch: \(f.dir.path)/scratch}")
        try server.start()
        try f.initRepository()
        try S3IntegrationTests.pgbench(server, scale: 15)
        return (f, try server.sql(S3IntegrationTests.accountsSum))
    }

    static func backupCount(_ f: VaultFixture) throws -> Int {
        let out = try f.vault(["list", "--json"])
        let list = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [[String: Any]]
        return list?.count ?? -1
    }

    @Test("SIGTERM during a backup abandons it cleanly; the next start runs the missed full; /metrics and vault metrics show it")
    func daemonEndToEnd() async throws {
        let (f, accounts) = try Self.scheduledShard("sched-e2e")
        defer { f.cleanUp() }

        // A SIGTERM while the full runs: with drain_timeout 0 s the backup is cancelled.
        let firstLog = f.dir.path + "/daemon-1.log"
        let first = try Self.startDaemon(f, log: firstLog)
        #expect(waitForText("\"event\":\"started\",\"job\":\"full\"", in: firstLog, timeout: 60))
        kill(first, SIGTERM)
        let stopped = ProcessRunner.finish(first, log: firstLog)
        #expect(stopped.status == 0, "\(stopped.output)")
        let abandoned = try #require(Self.lines(firstLog, event: "finished").first, "\(stopped.output)")
        #expect(abandoned["outcome"] as? String == "failed", "the backup finished before SIGTERM reached it: \(stopped.output)")
        #expect((abandoned["message"] as? String)?.hasPrefix("cancelled") == true)
        #expect(Self.lines(firstLog, event: "abandoned").count == 1)
        #expect(Self.lines(firstLog, event: "stopped").count == 1)
        // The repository holds no half backup and checks clean; the lock is free.
        #expect(try Self.backupCount(f) == 0)
        let check = try f.vault(["check"])
        #expect(check.status == 0, "\(check.stderr)")

        // The next start runs the missed full (a cancelled run records nothing), serving /metrics.
        let port = PortAllocator.allocate()
        let secondLog = f.dir.path + "/daemon-2.log"
        let second = try Self.startDaemon(f, log: secondLog, metricsPort: port)
        #expect(waitForText("\"outcome\":\"succeeded\"", in: secondLog, timeout: 180), "\((try? String(contentsOfFile: secondLog, encoding: .utf8)) ?? "")")
        let finished = try #require(Self.lines(secondLog, event: "finished").first)
        #expect(finished["job"] as? String == "full")
        #expect(finished["reason"] as? String == "missed")
        #expect((finished["bytes"] as? Int ?? 0) > 1_000_000)
        for key in ["shard", "start", "end", "seconds", "outcome", "slot", "detail"] { #expect(finished[key] != nil, "\(key)") }
        #expect(try Self.backupCount(f) == 1)

        let url = try #require(URL(string: "http://127.0.0.1:\(port)/metrics"))
        let (body, response) = try await URLSession.shared.data(from: url)
        let metrics = String(decoding: body, as: UTF8.self)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        #expect((response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(metrics.contains("vault_backups{shard=\"main\"} 1.0"), "\(metrics)")
        #expect(metrics.contains("vault_scheduler_job_runs_total{shard=\"main\",job=\"full\",outcome=\"succeeded\"} 1"), "\(metrics)")
        #expect(metrics.contains("vault_job_last_success_timestamp_seconds{shard=\"main\",job=\"full\"}"))
        #expect(metrics.contains("vault_wal_archive_lag_bytes{shard=\"main\"}"))
        #expect(metrics.contains("vault_repository_up{shard=\"main\"} 1.0"))
        let (_, missing) = try await URLSession.shared.data(from: try #require(URL(string: "http://127.0.0.1:\(port)/other")))
        #expect((missing as? HTTPURLResponse)?.statusCode == 404)

        kill(second, SIGTERM)
        #expect(ProcessRunner.finish(second, log: secondLog).status == 0)

        // The one-shot for textfile collectors writes the same repository figures.
        let prom = f.dir.path + "/metrics/vault.prom"
        try FileManager.default.createDirectory(atPath: f.dir.path + "/metrics", withIntermediateDirectories: true)
        try TestDirectory.giveToPostgres(f.dir.path + "/metrics")
        let once = try f.vault(["metrics", "--output", prom])
        #expect(once.status == 0, "\(once.stderr)")
        let written = try String(contentsOfFile: prom, encoding: .utf8)
        #expect(written.contains("vault_backups{shard=\"main\"} 1.0"))
        #expect(written.contains("vault_job_last_bytes{shard=\"main\",job=\"full\"}"))
        #expect(!written.contains("vault_scheduler_"), "the one-shot has no daemon counters")

        // The backup the daemon took restores to the source's rows.
        let copy = try await f.restoreAndRecover("copy", version: .v15, ["--immediate"])
        #expect(try copy.sql(S3IntegrationTests.accountsSum) == accounts)
    }

    @Test("SIGKILL of the daemon during a backup: nothing visible, the locks are free, the next start runs the missed full, which is in the audit trail and restores")
    func daemonKilled() async throws {
        let (f, accounts) = try Self.scheduledShard("sched-kill")
        defer { f.cleanUp() }

        let firstLog = f.dir.path + "/daemon-1.log"
        let first = try Self.startDaemon(f, log: firstLog)
        #expect(waitForText("\"event\":\"started\",\"job\":\"full\"", in: firstLog, timeout: 60))
        usleep(300_000)
        kill(first, SIGKILL)
        _ = ProcessRunner.wait(first)
        #expect(Self.lines(firstLog, event: "finished").isEmpty, "killed before the backup finished")
        #expect(try Self.backupCount(f) == 0)
        let check = try f.vault(["check"])
        #expect(check.status == 0, "\(check.stderr)")

        let secondLog = f.dir.path + "/daemon-2.log"
        let second = try Self.startDaemon(f, log: secondLog)
        #expect(waitForText("\"outcome\":\"succeeded\"", in: secondLog, timeout: 180), "\((try? String(contentsOfFile: secondLog, encoding: .utf8)) ?? "")")
        #expect(Self.lines(secondLog, event: "finished").first?["reason"] as? String == "missed")
        kill(second, SIGTERM)
        #expect(ProcessRunner.finish(second, log: secondLog).status == 0)
        #expect(try Self.backupCount(f) == 1)
        let audit = try f.vault(["audit"])
        #expect(audit.stdout.contains("vault schedule run: full of shard main") && audit.stdout.contains("succeeded"), "\(audit.stdout)")
        try Self.expectVerified(f)
        let copy = try await f.restoreAndRecover("copy", version: .v15, ["--immediate"])
        #expect(try copy.sql(S3IntegrationTests.accountsSum) == accounts)
    }

    static func expectVerified(_ f: VaultFixture) throws {
        let verify = try f.vault(["verify", "--repository-only", "--all"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
    }

    @Test("two daemons sharing one SeaweedFS bucket run each instant of a shard's job once: the other skips it and says why")
    func twoDaemonsOneBucket() async throws {
        let store = try await SeaweedFS.shared()
        let every = """
            defaults:
              schedule: {incremental: "* * * * *"}
            scheduler: {jitter: 0s, drain_timeout: 0s, retries: 0}
            """
        let (f, _, _) = try await S3IntegrationTests.start("sched-two", store: store, extra: every)
        defer { f.cleanUp() }
        let first = try f.vault(["backup", "--type", "full"])
        #expect(first.status == 0, "\(first.stderr)")
        // Both daemons see the same next minute and both go for it.
        let logs = [f.dir.path + "/daemon-a.log", f.dir.path + "/daemon-b.log"]
        let pids = try logs.map { try Self.startDaemon(f, log: $0) }
        for log in logs {
            #expect(waitForText("\"reason\":\"scheduled\",\"seconds\"", in: log, timeout: 150), "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
        for pid in pids { kill(pid, SIGTERM) }
        for (pid, log) in zip(pids, logs) { #expect(ProcessRunner.finish(pid, log: log).status == 0) }

        let finished = logs.flatMap { Self.lines($0, event: "finished") }
        var bySlot: [String: [String]] = [:]
        for line in finished { bySlot[line["slot"] as? String ?? "", default: []].append(line["outcome"] as? String ?? "") }
        for (slot, outcomes) in bySlot {
            #expect(outcomes.filter { $0 == "succeeded" }.count == 1, "\(slot): \(outcomes)")
        }
        let skipped = finished.filter { $0["outcome"] as? String == "skipped" }
        #expect(!skipped.isEmpty)
        for line in skipped {
            // Either the other daemon held the shard's scheduler lease, or it had recorded the run.
            let why = line["message"] as? String ?? ""
            #expect(why.contains("scheduler.lock is held by vault schedule run pid") || why.contains("run was done by vault schedule run pid"), "\(line)")
        }
        let succeeded = finished.filter { $0["outcome"] as? String == "succeeded" }.count
        #expect(try Self.backupCount(f) == 1 + succeeded)
    }

    @Test("a cancelled task holding an S3 lease releases it at once, rather than leaving it to expire")
    func cancelledLeaseRelease() async throws {
        let store = try await SeaweedFS.shared()
        let storage = try store.storage(bucket: try await store.makeBucket("sched-lease"))
        let name = "main/locks/scheduler.lock"
        // The holder says when it holds the lease; no deadline here, since the tests share two
        // cooperative threads with tests that block on processes and can starve it for a while.
        let (held, signal) = AsyncStream<Void>.makeStream()
        let holder = Task {
            defer { signal.finish() }
            try await storage.withLock(name, owner: "test") { _ in
                signal.yield()
                try await Task.sleep(for: .seconds(600))
            }
        }
        var heldIterator = held.makeAsyncIterator()
        guard await heldIterator.next() != nil else {
            let outcome = await holder.result
            Issue.record("the holder never held the lease: \(outcome)")
            return
        }
        #expect(try await storage.exists(name))
        holder.cancel()
        _ = await holder.result
        #expect(try await storage.get(name) == nil, "the lease was deleted, not left for lease_seconds")
    }
}
