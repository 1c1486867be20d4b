import Foundation
import Testing
@testable import VaultPostgres

/// Switchover, failover and status against one primary and two real streaming standbys.
/// Every test checks rows, not only exit codes.
@Suite("replica management against real PostgreSQL")
struct ReplicaIntegrationTests {
    static func json(_ text: String) -> [String: Any] {
        ((try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]) ?? [:]
    }

    /// What must not change in a dry run: each node's pg_controldata and its primary_conninfo.
    static func fingerprint(_ s: ReplicaShard) throws -> [String] {
        try ["a", "b", "c"].compactMap { s.servers[$0] }.map { server in
            let kept = ["Database system identifier", "Database cluster state", "Latest checkpoint's TimeLineID", "Latest checkpoint's PrevTimeLineID"]
            let control = try ProcessRunner.run([server.bindir + "/pg_controldata", "-D", server.dataDir], asPostgres: true).stdout
                .split(separator: "\n").filter { line in kept.contains { line.hasPrefix($0) } }.joined(separator: "\n")
            return control + "\n" + ((try? server.sql("SELECT pg_is_in_recovery()::text || ' ' || current_setting('primary_conninfo')")) ?? "down")
        }
    }

    @Test("switchover and back under a writer: every committed row is on the new primary, the old primary streams again, nothing is lost",
          arguments: PostgresVersion.available)
    func switchoverAndBack(version: PostgresVersion) async throws {
        let s = try ReplicaShard("replica-switch-\(version.rawValue)", version: version)
        defer { s.cleanUp() }
        let writer = ReplicaWriter(conninfos: [s.a, s.b, s.c].map(\.conninfo))
        try writer.waitFor(40)

        let before = try Self.fingerprint(s)
        let dry = try s.f.vault(["switchover", "--to", "b", "--dry-run"])
        #expect(dry.status == 0, "\(dry.stdout)\(dry.stderr)")
        #expect(dry.stdout.contains("plan:") && dry.stdout.contains("would switch over"), "\(dry.stdout)")
        #expect(try Self.fingerprint(s) == before, "a dry run changes nothing")

        let r = try s.f.vault(["switchover", "--to", "b", "--json"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let result = Self.json(r.stdout)
        #expect(result["outcome"] as? String == "completed", "\(r.stdout)")
        #expect(result["from"] as? String == "a" && result["to"] as? String == "b")
        #expect(try s.b.sql("SELECT pg_is_in_recovery()") == "f")
        #expect(try s.a.sql("SELECT pg_is_in_recovery()") == "t", "the old primary came back as a standby")
        let written = writer.count
        try writer.waitFor(written + 40)

        // Back to a, with the writer still running.
        let back = try s.f.vault(["switchover", "--to", "a"])
        #expect(back.status == 0, "\(back.stdout)\(back.stderr)")
        try writer.waitFor(writer.count + 40)
        let committed = writer.stop()
        #expect(try s.a.sql("SELECT pg_is_in_recovery()") == "f")
        let onA = try s.ids(s.a)
        #expect(committed.isSubset(of: onA), "committed rows missing after two switchovers: \(committed.subtracting(onA).sorted().prefix(10))")
        try s.waitCaughtUp(s.b, with: s.a)
        try s.waitCaughtUp(s.c, with: s.a)
        #expect(try s.ids(s.b) == onA && s.ids(s.c) == onA, "both standbys hold exactly the primary's rows")

        let (status, shard) = try s.status()
        #expect(status == 0, "no drift after switching back: \(shard)")
        let topology = shard["topology"] as? [String: Any]
        #expect(topology?["primary"] as? String == "a" && (topology?["drift"] as? [String])?.isEmpty == true, "\(String(describing: topology))")
        #expect((shard["lastTopologyChange"] as? [String: Any])?["kind"] as? String == "switchover")
        // Both switches archived their timeline's history file.
        let timelines = try await s.f.openRepository().storage.list(prefix: "main/wal").filter { $0.hasSuffix(".history") }
        #expect(timelines.count == 2, "\(timelines)")
    }

    @Test("SIGKILL of the primary under writes, then failover: every row a standby had is on the new primary, the other standby follows, the archive has the new timeline, and a backup after the failover restores exactly",
          arguments: PostgresVersion.available)
    func failoverAfterKill(version: PostgresVersion) async throws {
        let s = try ReplicaShard("replica-failover-\(version.rawValue)", version: version, priorities: ["b": 100, "c": 50])
        defer { s.cleanUp() }
        let full = try s.f.vault(["backup", "--type", "full"])
        #expect(full.status == 0, "\(full.stderr)")
        let first = ReplicaWriter(conninfos: [s.a.conninfo])
        try first.waitFor(80)
        _ = first.stop()
        try s.a.sql("SELECT pg_create_restore_point('before-failover')")
        let beforePoint = try s.ids(s.a)
        let writer = ReplicaWriter(conninfos: [s.a.conninfo], startingAt: 100_000)
        try writer.waitFor(40)
        try s.kill(s.a)
        _ = writer.stop()
        let onB = try s.ids(s.b), onC = try s.ids(s.c)

        let r = try s.f.vault(["failover", "--confirm-primary-down", "--json"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let result = Self.json(r.stdout)
        let promoted = try #require(result["to"] as? String)
        let primary = try #require(s.servers[promoted])
        let other = promoted == "b" ? s.c : s.b
        #expect(try primary.sql("SELECT pg_is_in_recovery()") == "f")
        let rows = try s.ids(primary)
        #expect(onB.isSubset(of: rows) && onC.isSubset(of: rows), "rows a standby had received are on the new primary")

        try primary.sql("INSERT INTO log VALUES (1000000, 'after failover')")
        try s.waitCaughtUp(other, with: primary)
        #expect(try s.ids(other) == s.ids(primary), "the other standby follows the new primary")
        let (status, shard) = try s.status()
        let topology = shard["topology"] as? [String: Any]
        #expect(status == 0 && topology?["primary"] as? String == promoted, "\(shard)")
        #expect((shard["fenced"] as? [String]) == ["a"], "the old primary stays fenced until rejoin: \(shard)")

        // A backup after the failover restores exactly; the restore point before it still works.
        let after = try s.f.vault(["backup", "--type", "full"])
        #expect(after.status == 0, "\(after.stderr)")
        let copy = try await s.f.restoreAndRecover("restored-after", version: version, [])
        #expect(try s.ids(copy) == s.ids(primary), "a restore of the post-failover backup equals the new primary")
        let fullID = try #require(Self.firstBackup(full.stdout))
        let point = try await s.f.restoreAndRecover("restored-point", version: version, ["--backup", fullID, "--target-name", "before-failover"])
        #expect(try s.ids(copy).isSuperset(of: beforePoint) && s.ids(point) == beforePoint, "PITR to the point before the failover")
        // From the backup taken before the failover, across the switch to a point on the new
        // timeline: the archive must be continuous through the switch.
        try primary.sql("INSERT INTO log VALUES (1000001, 'after the point')")
        try primary.sql("SELECT pg_create_restore_point('after-failover')")
        let afterPoint = try s.ids(primary)
        try primary.sql("INSERT INTO log VALUES (1000002, 'after the point')")
        try primary.sql("SELECT pg_switch_wal()")
        try await Task.sleep(nanoseconds: 2_000_000_000)
        let across = try await s.f.restoreAndRecover("restored-across", version: version, ["--backup", fullID, "--target-name", "after-failover"])
        #expect(try s.ids(across) == afterPoint, "PITR from the old backup across the switch to a point on the new timeline")
    }

    static func firstBackup(_ output: String) -> String? {
        output.split(separator: " ").dropFirst().first.map(String.init)
    }

    @Test("refusals change nothing: a failing fence, a node that accepts writes (two primaries: status reports drift), lag over the limit; priority 0 is never promoted; a paused standby is resumed and promoted with all it received")
    func refusalsAndPausedReplay() async throws {
        let s = try ReplicaShard("replica-refusals", version: .v15, priorities: ["b": 0, "c": 100], failover: "{max_lag_bytes: 65536, fence_command: \"/bin/false\"}")
        defer { s.cleanUp() }
        try s.a.sql("INSERT INTO log SELECT g, md5(g::text) FROM generate_series(1, 100) g")
        try s.waitCaughtUp(s.c, with: s.a)

        // A node accepts writes: failover is refused before any fence runs.
        let live = try s.f.vault(["failover", "--confirm-primary-down"])
        #expect(live.status == 6 && live.stderr.contains("no node accepts writes"), "\(live.stderr)")

        // c stops receiving; the primary writes and archives more; then the primary dies.
        try s.c.sql("ALTER SYSTEM SET primary_conninfo = ''")
        try s.c.sql("SELECT pg_reload_conf()")
        try s.a.sql("INSERT INTO log SELECT g, repeat(md5(g::text), 20) FROM generate_series(101, 5000) g")
        try s.a.sql("SELECT pg_switch_wal()")
        try s.a.sql("CHECKPOINT")
        try await Task.sleep(nanoseconds: 2_000_000_000)
        try s.kill(s.a)
        let before = try Self.fingerprint(s)

        // The fence runs only when a promotion would follow: here only with --allow-data-loss.
        let fence = try s.f.vault(["failover", "--allow-data-loss"])
        #expect(fence.status == 6 && fence.stderr.contains("old primary fenced") && fence.stderr.contains("/bin/false exited 1"), "\(fence.stderr)")
        #expect(try Self.fingerprint(s) == before, "a failing fence changes nothing")

        try s.writePolicy(priorities: ["b": 0, "c": 100], failover: "{max_lag_bytes: 65536, fence_command: \"/bin/true\"}")
        let dry = try s.f.vault(["failover", "--dry-run"])
        #expect(dry.status == 6 && dry.stdout.contains("FAIL lag"), "\(dry.stdout)\(dry.stderr)")
        #expect(try Self.fingerprint(s) == before, "a dry run changes nothing")
        let lag = try s.f.vault(["failover"])
        #expect(lag.status == 6 && lag.stderr.contains("lag:"), "c is behind what b received and what the archive holds: \(lag.stderr)")
        #expect(try s.b.sql("SELECT pg_is_in_recovery()") == "t" && s.c.sql("SELECT pg_is_in_recovery()") == "t", "priority 0 never promoted, nothing promoted")
        // The refusal put c's WAL receiver settings back as they were.
        #expect(try s.c.sql("SELECT current_setting('primary_conninfo')") == "")

        // The operator accepts the loss: c is promoted (b, priority 0, never is).
        let forced = try s.f.vault(["failover", "--allow-data-loss", "--json"])
        #expect(forced.status == 0 && Self.json(forced.stdout)["to"] as? String == "c", "\(forced.stdout)\(forced.stderr)")
        #expect(try s.c.sql("SELECT pg_is_in_recovery()") == "f" && s.b.sql("SELECT pg_is_in_recovery()") == "t")

        // Two nodes accept writes: status reports drift, failover and switchover refuse.
        try s.b.sql("SELECT pg_wal_replay_pause()")
        try await Task.sleep(nanoseconds: 500_000_000)
        let restarted = try ProcessRunner.run([s.a.bindir + "/pg_ctl", "-D", s.a.dataDir, "-l", s.a.logFile, "-w", "start"], asPostgres: true)
        #expect(restarted.status == 0, "\(restarted.stderr)")
        let (status, shard) = try s.status()
        #expect(status == 10, "drift exits 10")
        let drift = ((shard["topology"] as? [String: Any])?["drift"] as? [String]) ?? []
        #expect(drift.contains { $0.contains("2 nodes accept writes") }, "\(drift)")
        let text = try s.f.vault(["status"])
        #expect(text.stdout.contains("DRIFT: 2 nodes accept writes") && text.stdout.contains("REPLAY PAUSED"), "\(text.stdout)")
        #expect(try s.f.vault(["failover", "--confirm-primary-down"]).status == 6)
        let switchover = try s.f.vault(["switchover"])
        #expect(switchover.status == 6 && switchover.stderr.contains("one primary"), "\(switchover.stderr)")
    }

    @Test("a standby with paused replay is resumed before promotion and holds every row it received")
    func pausedReplay() async throws {
        // c may never be promoted, so b is the candidate although c replayed more.
        let s = try ReplicaShard("replica-paused", version: .v15, priorities: ["b": 100, "c": 0])
        defer { s.cleanUp() }
        try s.a.sql("INSERT INTO log SELECT g, md5(g::text) FROM generate_series(1, 100) g")
        try s.waitCaughtUp(s.b, with: s.a)
        try s.waitCaughtUp(s.c, with: s.a)
        try s.b.sql("SELECT pg_wal_replay_pause()")
        try s.a.sql("INSERT INTO log SELECT g, md5(g::text) FROM generate_series(101, 300) g")
        try s.waitCaughtUp(s.c, with: s.a)
        let all = try s.ids(s.a)
        #expect(try s.ids(s.b).count == 100, "b received but did not replay")
        try s.kill(s.a)
        let r = try s.f.vault(["failover", "--confirm-primary-down"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("resumed replay on b"), "\(r.stdout)")
        #expect(try s.b.sql("SELECT pg_is_in_recovery()") == "f" && s.ids(s.b) == all, "b promoted with every row it received")
    }

    @Test("the old primary wrote rows after the cut (split brain): rejoin rewinds it, the extra rows are gone, it streams from the new primary and is no longer fenced",
          arguments: PostgresVersion.available)
    func rejoinRewinds(version: PostgresVersion) async throws {
        let s = try ReplicaShard("replica-rejoin-\(version.rawValue)", version: version, priorities: ["b": 100, "c": 50])
        defer { s.cleanUp() }
        try s.a.sql("INSERT INTO log SELECT g, md5(g::text) FROM generate_series(1, 100) g")
        try s.waitCaughtUp(s.b, with: s.a)
        try s.waitCaughtUp(s.c, with: s.a)
        // The cut: the standbys stop receiving, and the primary writes rows no one else has.
        for standby in [s.b, s.c] {
            try standby.sql("ALTER SYSTEM SET primary_conninfo = ''")
            try standby.sql("SELECT pg_reload_conf()")
        }
        try await Task.sleep(nanoseconds: 500_000_000)
        try s.a.sql("INSERT INTO log SELECT g, 'split brain' FROM generate_series(1001, 1100) g")
        try s.kill(s.a)
        let failover = try s.f.vault(["failover", "--confirm-primary-down"])
        #expect(failover.status == 0, "\(failover.stdout)\(failover.stderr)")
        try s.b.sql("INSERT INTO log VALUES (2000, 'after failover')")

        // The old primary comes back up as a primary (split brain): rejoining the new primary
        // onto it would discard the writes since the failover, and is refused.
        let up = try ProcessRunner.run([s.a.bindir + "/pg_ctl", "-D", s.a.dataDir, "-l", s.a.logFile, "-w", "start"], asPostgres: true)
        #expect(up.status == 0, "\(up.stderr)")
        let wrong = try s.f.vault(["rejoin", "--node", "b"])
        #expect(wrong.status == 6 && wrong.stderr.contains("history"), "\(wrong.stderr)")
        #expect(try s.b.sql("SELECT pg_is_in_recovery()") == "f", "b was left alone")
        _ = try ProcessRunner.run([s.a.bindir + "/pg_ctl", "-D", s.a.dataDir, "-m", "fast", "-w", "stop"], asPostgres: true)

        let dry = try s.f.vault(["rejoin", "--node", "a", "--dry-run"])
        #expect(dry.status == 0 && dry.stdout.contains("would rejoin"), "\(dry.stdout)\(dry.stderr)")
        #expect(!FileManager.default.fileExists(atPath: s.a.dataDir + "/standby.signal"), "a dry run writes nothing")

        let r = try s.f.vault(["rejoin", "--node", "a", "--json"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(Self.json(r.stdout)["method"] as? String == "pg_rewind", "\(r.stdout)")
        #expect(try s.a.sql("SELECT pg_is_in_recovery()") == "t")
        try s.waitCaughtUp(s.a, with: s.b)
        let rows = try s.ids(s.a)
        #expect(rows == (try s.ids(s.b)), "the rejoined node holds exactly the new primary's rows")
        #expect(rows.filter { (1001...1100).contains($0) }.isEmpty && rows.contains(2000), "the split-brain rows are gone")
        let (status, shard) = try s.status()
        #expect(status == 0 && (shard["fenced"] as? [String]) == [], "\(shard)")
        #expect((shard["lastTopologyChange"] as? [String: Any])?["kind"] as? String == "rejoin")
    }

    @Test("a switchover whose target cannot replay the old primary's shutdown checkpoint in time is rolled back: the old primary is the primary again and takes writes")
    func switchoverRollback() async throws {
        let s = try ReplicaShard("replica-rollback", version: .v15)
        defer { s.cleanUp() }
        // b applies commits an hour late, so it never reaches a's shutdown checkpoint in time.
        try s.b.sql("ALTER SYSTEM SET recovery_min_apply_delay = '1h'")
        try s.b.sql("SELECT pg_reload_conf()")
        try await Task.sleep(nanoseconds: 500_000_000)
        try s.a.sql("INSERT INTO log VALUES (1, 'delayed on b')")
        let autoConf = s.a.dataDir + "/postgresql.auto.conf"
        let settingsBefore = FileManager.default.contents(atPath: autoConf)
        let r = try s.f.vault(["switchover", "--to", "b", "--timeout", "3s"])
        #expect(r.status == 10 && r.stderr.contains("rolled back"), "\(r.stdout)\(r.stderr)")
        #expect(try s.a.sql("SELECT pg_is_in_recovery()") == "f", "a runs as primary again")
        // The standby settings written at the stop were taken out again.
        #expect(FileManager.default.contents(atPath: autoConf) == settingsBefore)
        #expect(!FileManager.default.fileExists(atPath: s.a.dataDir + "/standby.signal"))
        try s.a.sql("INSERT INTO log VALUES (2, 'after the rollback')")
        #expect(try s.b.sql("SELECT pg_is_in_recovery()") == "t", "b was not promoted")
        let events = try await s.f.openRepository().topologyEvents(shard: "main")
        #expect(events.last?.outcome == "rolled back" && events.last?.kind == .switchover, "\(events)")
    }

    @Test("WAL the old primary never archived (its archive_command failing) is pushed from the new primary before promotion, so the archive has no gap")
    func archiveContinuity() async throws {
        let s = try ReplicaShard("replica-continuity", version: .v15, priorities: ["b": 100, "c": 50])
        defer { s.cleanUp() }
        let full = try s.f.vault(["backup", "--type", "full"])
        #expect(full.status == 0, "\(full.stderr)")
        try s.a.sql("ALTER SYSTEM SET archive_command = '/bin/false'")
        try s.a.sql("SELECT pg_reload_conf()")
        for batch in 0..<3 {
            try s.a.sql("INSERT INTO log SELECT g, md5(g::text) FROM generate_series(\(batch * 1000 + 1), \(batch * 1000 + 1000)) g")
            try s.a.sql("SELECT pg_switch_wal()")
        }
        try s.a.sql("SELECT pg_create_restore_point('unarchived')")
        let atPoint = try s.ids(s.a)
        try s.a.sql("INSERT INTO log VALUES (99999, 'after the point')")
        try s.waitCaughtUp(s.b, with: s.a)
        try s.waitCaughtUp(s.c, with: s.a)
        try s.kill(s.a)
        let r = try s.f.vault(["failover", "--confirm-primary-down"])
        #expect(r.status == 0 && r.stdout.contains("archive continuity: pushed"), "\(r.stdout)\(r.stderr)")
        // The restore point lies in WAL only the old primary and its standbys had: recovery from
        // the backup before the failover reaches it through the segments pushed.
        let fullID = try #require(Self.firstBackup(full.stdout))
        try s.b.sql("SELECT pg_switch_wal()")
        try await Task.sleep(nanoseconds: 2_000_000_000)
        let copy = try await s.f.restoreAndRecover("restored", version: .v15, ["--backup", fullID, "--target-name", "unarchived"])
        #expect(try s.ids(copy) == atPoint)
    }
}

/// vault killed in the middle of a switchover never leaves two primaries, and the runbook
/// (failover, rejoin) brings the shard back with every committed row.
@Suite("switchover killed outright against real PostgreSQL")
struct KilledSwitchoverIntegrationTests {
    static func standbySettings(_ server: PostgresServer, pointingAt primary: PostgresServer) -> Bool {
        let auto = (try? String(contentsOfFile: server.dataDir + "/postgresql.auto.conf", encoding: .utf8)) ?? ""
        return FileManager.default.fileExists(atPath: server.dataDir + "/standby.signal") && auto.contains("port=''\(primary.port)''")
    }

    static func writable(_ s: ReplicaShard) -> [String] {
        ["a", "b", "c"].filter { name in (try? s.servers[name]?.sql("SELECT pg_is_in_recovery()")) == "f" }
    }

    @Test("SIGKILL while the target replays (old primary stopped) and right after the promotion: never two primaries, the old primary can only start as a standby, and failover or rejoin finish the job with every committed row")
    func killed() async throws {
        let s = try ReplicaShard("replica-switch-killed", version: .v15)
        defer { s.cleanUp() }
        let writer = ReplicaWriter(conninfos: [s.a, s.b, s.c].map(\.conninfo))
        try writer.waitFor(40)

        // 1. Killed while b replays the shutdown checkpoint: b applies commits an hour late,
        //    so the switchover sits in that wait once a has stopped.
        try s.b.sql("ALTER SYSTEM SET recovery_min_apply_delay = '1h'")
        try s.b.sql("SELECT pg_reload_conf()")
        let log = s.f.dir.path + "/switchover-1.log"
        let pid = try ProcessRunner.spawnAsPostgres([VaultBinary.path, "--policy", s.f.policyFile, "switchover", "--to", "b", "--timeout", "10m"], logTo: log)
        #expect(pollBlocking(timeout: 60) { Self.standbySettings(s.a, pointingAt: s.b) },
                "a got its standby settings once it stopped: \((try? String(contentsOfFile: s.a.dataDir + "/postgresql.auto.conf", encoding: .utf8)) ?? "-") \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        kill(pid, SIGKILL)
        _ = ProcessRunner.wait(pid)
        #expect(Self.writable(s).isEmpty, "nothing was promoted, and a is stopped")
        #expect(Self.standbySettings(s.a, pointingAt: s.b), "a can start only as a standby of b")

        // The runbook: let b catch up, fail over to it, bring a back.
        try s.b.sql("ALTER SYSTEM RESET recovery_min_apply_delay")
        try s.b.sql("SELECT pg_reload_conf()")
        let failover = try s.f.vault(["failover", "--to", "b", "--confirm-primary-down"])
        #expect(failover.status == 0, "\(failover.stdout)\(failover.stderr)")
        let rejoin = try s.f.vault(["rejoin", "--node", "a"])
        #expect(rejoin.status == 0, "\(rejoin.stdout)\(rejoin.stderr)")
        #expect(Self.writable(s) == ["b"])
        try writer.waitFor(writer.count + 40)

        // 2. Killed right after b → c's promotion: b, stopped, already points at c; rejoin
        //    brings back whichever node the kill left off the new timeline.
        let log2 = s.f.dir.path + "/switchover-2.log"
        let pid2 = try ProcessRunner.spawnAsPostgres([VaultBinary.path, "--policy", s.f.policyFile, "switchover", "--to", "c"], logTo: log2)
        #expect(pollBlocking(timeout: 60, every: 5_000_000) { (try? s.c.sql("SELECT pg_is_in_recovery()")) == "f" })
        kill(pid2, SIGKILL)
        _ = ProcessRunner.wait(pid2)
        #expect(Self.writable(s) == ["c"], "one primary after the kill")
        if (try? s.b.sql("SELECT 1")) == nil { #expect(Self.standbySettings(s.b, pointingAt: s.c), "b can start only as a standby of c") }
        // Whichever node the kill left behind is rejoined; one the switchover already
        // re-pointed is refused as streaming, which is fine.
        for node in ["a", "b"] {
            let r = try s.f.vault(["rejoin", "--node", node])
            let log = (try? String(contentsOfFile: (s.servers[node]?.dataDir ?? "") + "/vault-server.log", encoding: .utf8)) ?? ""
            #expect(r.status == 0 || (r.status == 6 && r.stderr.contains("already streams from c")), "rejoin \(node): \(r.stdout)\(r.stderr)\n\(log.suffix(3000))")
        }
        try writer.waitFor(writer.count + 40)
        let committed = writer.stop()
        let onC = try s.ids(s.c)
        #expect(committed.isSubset(of: onC), "committed rows missing: \(committed.subtracting(onC).sorted().prefix(10))")
        try s.waitCaughtUp(s.a, with: s.c)
        try s.waitCaughtUp(s.b, with: s.c)
        #expect(try s.ids(s.a) == onC && s.ids(s.b) == onC)
        let (status, shard) = try s.status()
        #expect(status == 0, "no drift once the runbook ran: \(shard)")
    }

    @Test("SIGKILL of a failover once it froze the standbys: never two primaries, running it again finishes, rejoin brings the old primary back, every row the standbys had is kept")
    func killedFailover() async throws {
        let s = try ReplicaShard("replica-failover-killed", version: .v15)
        defer { s.cleanUp() }
        // Rows the standbys have (an asynchronous failover keeps what they received).
        let writer = ReplicaWriter(conninfos: [s.a, s.b, s.c].map(\.conninfo))
        try writer.waitFor(40)
        let committed = writer.stop()
        try s.waitCaughtUp(s.b, with: s.a)
        try s.waitCaughtUp(s.c, with: s.a)
        try s.kill(s.a)

        // Killed as soon as a standby's WAL receiver is stopped (positions frozen).
        let log = s.f.dir.path + "/failover-1.log"
        let pid = try ProcessRunner.spawnAsPostgres([VaultBinary.path, "--policy", s.f.policyFile, "failover", "--confirm-primary-down"], logTo: log)
        let froze = pollBlocking(timeout: 60, every: 2_000_000) {
            ["b", "c"].contains { (try? s.servers[$0]?.sql("SELECT current_setting('primary_conninfo')")) == "" }
        }
        kill(pid, SIGKILL)
        // Under load the failover may finish before the freeze is seen: then it was not killed.
        let exit = ProcessRunner.wait(pid)
        #expect(froze || exit == 0, "the failover froze no standby: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        let writable = Self.writable(s)
        #expect(writable.count <= 1, "never two primaries: \(writable)")

        if writable.isEmpty {
            let again = try s.f.vault(["failover", "--confirm-primary-down"])
            #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        }
        let primary = try #require(Self.writable(s).first)
        for node in ["a", "b", "c"] where node != primary {
            let state = try s.status().shard["topology"] as? [String: Any]
            let drift = (state?["drift"] as? [String]) ?? []
            guard node == "a" || drift.contains(where: { $0.hasPrefix("\(node) ") }) else { continue }
            let r = try s.f.vault(["rejoin", "--node", node])
            #expect(r.status == 0, "rejoin \(node): \(r.stdout)\(r.stderr)")
        }
        let server = try #require(s.servers[primary])
        try server.sql("INSERT INTO log VALUES (1000000, 'after the failover')")
        let rows = try s.ids(server)
        #expect(rows.contains(1_000_000))
        #expect(committed.isSubset(of: rows), "committed rows missing: \(committed.subtracting(rows).sorted().prefix(10))")
        for node in ["a", "b", "c"] where node != primary {
            let standby = try #require(s.servers[node])
            try s.waitCaughtUp(standby, with: server)
            #expect(try s.ids(standby) == rows, "\(node) holds the primary's rows")
        }
        let (status, shard) = try s.status()
        #expect(status == 0, "no drift once the runbook ran: \(shard)")
    }
}
