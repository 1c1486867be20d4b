import Foundation
import Testing
@testable import VaultSupport
@testable import VaultPolicy
@testable import VaultFormat
@testable import VaultOperations

@Suite("policy files")
struct PolicyTests {
    static let policiesDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Policies").path

    static let valid = """
        version: 1
        repository: {path: /srv/repo}
        encryption: {passphrase_file: /etc/vault/passphrase}
        shards:
          - name: a
            keys: {from: 0, to: 99}
            nodes: [{name: n1, conninfo: "host=x"}]
          - name: b
            keys: {from: 100, to: 199}
            nodes: [{name: n1, conninfo: "host=y"}]

        """

    /// The smallest valid policy, for tests of one section.
    static let minimal = """
        version: 1
        repository: {path: /r}
        encryption: none
        shards:
          - name: main
            nodes: [{name: a, conninfo: "host=h"}]
        """

    func issues(_ text: String) -> [PolicyIssue] {
        do {
            _ = try PolicyLoader.parse(text, path: "/p.yaml")
            return []
        } catch let e as PolicyError {
            return e.issues
        } catch {
            return [PolicyIssue(line: 0, column: 0, message: "\(error)")]
        }
    }

    @Test("the example policies pass the check", arguments: ["single-cluster.yaml", "sharded.yaml"])
    func examples(file: String) throws {
        let p = try PolicyLoader.load(path: Self.policiesDir + "/" + file)
        #expect(!p.shards.isEmpty)
    }

    @Test("the sharded example has a complete shard map and per-shard overrides")
    func shardedExample() throws {
        let p = try PolicyLoader.load(path: Self.policiesDir + "/sharded.yaml")
        #expect(p.shards.count == 3)
        #expect(try p.locate(key: 0).name == "users-0")
        #expect(try p.locate(key: 32768).name == "users-1")
        #expect(try p.locate(key: 98303).name == "users-2")
        #expect(throws: ShardLookupError.self) { try p.locate(key: 98304) }
        #expect(p.shards[2].settings.schedule.full?.text == "0 3 * * 0")
        #expect(p.shards[0].settings.schedule.full?.text == "0 1 * * 0")
        #expect(p.shards[0].settings.backupFrom == .preferStandby)
        #expect(p.shards[0].settings.retention.window == 30 * 86400)
        #expect(p.shards[0].settings.retention.orphanGrace == 86400, "a day unless the policy says")
        let grace = try PolicyLoader.parse(Self.minimal + "\ndefaults: {retention: {orphan_grace: 2h}}\n", path: "/p.yaml")
        #expect(grace.shards[0].settings.retention.orphanGrace == 7200 && grace.shards[0].settings.retention.fullBackups == 2)
        #expect(throws: PolicyError.self) { try PolicyLoader.parse(Self.minimal + "\ndefaults: {retention: {orphan_grace: soon}}\n", path: "/p.yaml") }
        #expect(p.encryption == .passphraseCommand("cat /run/secrets/vault-passphrase"))
    }

    @Test("encryption.key_file takes an absolute path, alone")
    func keyFile() throws {
        let ok = try PolicyLoader.parse(Self.minimal.replacingOccurrences(of: "encryption: none", with: "encryption: {key_file: /etc/vault/repository.key}"), path: "/p.yaml")
        #expect(ok.encryption == .keyFile("/etc/vault/repository.key"))
        for bad in ["encryption: {key_file: repository.key}", "encryption: {key_file: /k, passphrase_file: /p}"] {
            #expect(throws: PolicyError.self) { try PolicyLoader.parse(Self.minimal.replacingOccurrences(of: "encryption: none", with: bad), path: "/p.yaml") }
        }
    }

    @Test("a valid policy has no issues")
    func valid() { #expect(issues(Self.valid).isEmpty) }

    @Test("an unknown key is named with its line and a suggestion")
    func unknownKey() {
        let found = issues(Self.valid.replacingOccurrences(of: "    keys: {from: 100", with: "    kyes: {from: 100"))
        #expect(found.contains { $0.line == 9 && $0.message == "unknown key shards[1].kyes (did you mean 'keys'?)" })
    }

    @Test("a wrong type is named with its line")
    func wrongType() {
        let found = issues(Self.valid.replacingOccurrences(of: "to: 99}", with: "to: lots}"))
        #expect(found.contains { $0.line == 6 && $0.message.contains("shards[0].keys.to must be a whole number") })
    }

    @Test("duplicate shard and node names are refused")
    func duplicates() {
        let twice = Self.valid.replacingOccurrences(of: "name: b", with: "name: a")
        #expect(issues(twice).contains { $0.line == 8 && $0.message == "shard name 'a' is used twice" })
        let nodes = Self.valid.replacingOccurrences(of: #"nodes: [{name: n1, conninfo: "host=x"}]"#, with: #"nodes: [{name: n1, conninfo: "host=x"}, {name: n1, conninfo: "host=z"}]"#)
        #expect(issues(nodes).contains { $0.message == "shard a: node name 'n1' is used twice" })
    }

    @Test("overlapping and missing key ranges are refused")
    func ranges() {
        let overlap = Self.valid.replacingOccurrences(of: "from: 100", with: "from: 50")
        #expect(issues(overlap).contains { $0.line == 8 && $0.message.contains("overlaps shard a") })
        let gap = Self.valid.replacingOccurrences(of: "from: 100", with: "from: 150")
        #expect(issues(gap).contains { $0.message == "keys 100-149 belong to no shard (gap between a and b)" })
        let partial = Self.valid.replacingOccurrences(of: "    keys: {from: 100, to: 199}\n", with: "")
        #expect(issues(partial).contains { $0.message.contains("shard b has no keys range") })
    }

    @Test("secrets written inline are refused")
    func inlineSecrets() {
        let pass = Self.valid.replacingOccurrences(of: "encryption: {passphrase_file: /etc/vault/passphrase}", with: "encryption: {passphrase: hunter2}")
        let found = issues(pass)
        #expect(found.contains { $0.line == 3 && $0.message.contains("secrets must not be written in the policy") })
        #expect(!found.contains { $0.message.contains("hunter2") })
        let conn = Self.valid.replacingOccurrences(of: "host=x", with: "host=x password=hunter2")
        #expect(issues(conn).contains { $0.line == 7 && $0.message.contains("conninfo contains a password") })
        let url = Self.valid.replacingOccurrences(of: "host=x", with: "postgresql://vault:hunter2@db/postgres")
        #expect(issues(url).contains { $0.message.contains("conninfo contains a password") })
    }

    @Test("a bad cron expression is named")
    func badCron() {
        let text = Self.valid.replacingOccurrences(of: "shards:", with: "defaults:\n  schedule: {full: \"0 25 * * *\"}\nshards:")
        #expect(issues(text).contains { $0.line == 5 && $0.message == "schedule.full: cron hour 25 is out of range 0-23" })
    }

    @Test("missing encryption is an explicit choice")
    func missingEncryption() {
        let text = Self.valid.replacingOccurrences(of: "encryption: {passphrase_file: /etc/vault/passphrase}\n", with: "")
        #expect(issues(text).contains { $0.message.hasPrefix("encryption is missing") })
        let none = Self.valid.replacingOccurrences(of: "encryption: {passphrase_file: /etc/vault/passphrase}", with: "encryption: none")
        #expect(issues(none).isEmpty)
    }

    @Test("YAML syntax errors carry a line")
    func syntax() {
        let found = issues("version: 1\nrepository: {path: /x\nshards: []\n")
        #expect(found.count == 1)
        #expect(found.first?.message.hasPrefix("YAML syntax") == true)
    }

    @Test("the one-line error names the file, the first line and the count")
    func oneLine() {
        let text = Self.valid.replacingOccurrences(of: "kyes", with: "x").replacingOccurrences(of: "version: 1", with: "version: 1\nextra: 1\nmore: 2")
        do {
            _ = try PolicyLoader.parse(text, path: "/etc/vault/vault.yaml")
            Issue.record("expected an error")
        } catch let e as PolicyError {
            #expect(e.description == "/etc/vault/vault.yaml:2: unknown key extra (and 1 more problem; run 'vault policy check')")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}

@Suite("cron expressions")
struct CronTests {
    @Test("fields, ranges, steps, lists and names")
    func parse() throws {
        let c = try CronExpression("*/15 2-4 * jan-mar mon,wed")
        #expect(c.matches(minute: 30, hour: 3, day: 10, month: 2, weekday: 1))
        #expect(!c.matches(minute: 31, hour: 3, day: 10, month: 2, weekday: 1))
        #expect(!c.matches(minute: 30, hour: 5, day: 10, month: 2, weekday: 1))
        #expect(!c.matches(minute: 30, hour: 3, day: 10, month: 4, weekday: 1))
        #expect(try CronExpression("0 0 * * 7").matches(minute: 0, hour: 0, day: 1, month: 1, weekday: 0))
        #expect(try CronExpression("@daily").matches(minute: 0, hour: 0, day: 5, month: 5, weekday: 3))
    }

    /// 2026-11-26 is a Thursday.
    static func utc(_ text: String) -> Date {
        let f = ISO8601DateFormatter()
        return f.date(from: text) ?? Date(timeIntervalSince1970: 0)
    }

    @Test("the next firing time: later today, another weekday, a month boundary, a leap day, never")
    func next() throws {
        let thursdayMorning = Self.utc("2026-11-26T08:30:15Z")
        #expect(try CronExpression("0 2 * * 0").next(after: thursdayMorning) == Self.utc("2026-11-29T02:00:00Z"))
        #expect(try CronExpression("*/15 * * * *").next(after: thursdayMorning) == Self.utc("2026-11-26T08:45:00Z"))
        #expect(try CronExpression("30 8 * * *").next(after: Self.utc("2026-11-26T08:30:00Z")) == Self.utc("2026-11-27T08:30:00Z"))
        #expect(try CronExpression("@monthly").next(after: thursdayMorning) == Self.utc("2026-12-01T00:00:00Z"))
        #expect(try CronExpression("0 0 29 2 *").next(after: thursdayMorning) == Self.utc("2028-02-29T00:00:00Z"))
        // Both day fields restricted: either matches (the 1st, or a Monday).
        #expect(try CronExpression("0 3 1 * mon").next(after: thursdayMorning) == Self.utc("2026-11-30T03:00:00Z"))
        #expect(try CronExpression("0 0 31 2 *").next(after: thursdayMorning) == nil)
    }

    @Test("auto takes a full backup when there is none or the full schedule came due since the newest full")
    func autoFull() throws {
        let now = Self.utc("2026-11-26T08:30:00Z")
        let weekly = try CronExpression("0 2 * * 0")
        #expect(BackupOperation.fullBackupDue(ids: [], schedule: weekly, now: now) == "no full backup yet")
        #expect(BackupOperation.fullBackupDue(ids: ["20261125T010000Z-I"], schedule: nil, now: now) == "no full backup yet")
        // The newest full started Monday; Sunday 02:00 has not come since.
        let recent = ["20261123T020000Z-F", "20261124T020000Z-I", "20261125T020000Z-I"]
        #expect(BackupOperation.fullBackupDue(ids: recent, schedule: weekly, now: now) == nil)
        #expect(BackupOperation.fullBackupDue(ids: recent, schedule: nil, now: now) == nil)
        // The newest full started before last Sunday's 02:00: due.
        let old = ["20261121T020000Z-F", "20261125T020000Z-I"]
        let reason = BackupOperation.fullBackupDue(ids: old, schedule: weekly, now: now)
        #expect(reason?.contains("came due at 2026-11-22") == true, "\(reason ?? "nil")")
        #expect(BackupID.started("20261121T020000Z-F") == Self.utc("2026-11-21T02:00:00Z"))
        #expect(BackupID.kind("20261121T020000Z-I") == .incremental)
        #expect(BackupID.started("garbage") == nil)
    }

    @Test("invalid expressions say what is wrong", arguments: [
        ("0 2 * *", "has 4 fields"), ("60 * * * *", "minute 60 is out of range"), ("a * * * *", "is not a number"),
        ("5-1 * * * *", "runs backwards"), ("*/0 * * * *", "invalid step"),
    ])
    func invalid(text: String, expected: String) {
        do {
            _ = try CronExpression(text)
            Issue.record("\(text) should not parse")
        } catch {
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }
}

@Suite("schedules in a time zone")
struct ScheduleZoneTests {
    static func utc(_ text: String) -> Date? { ISO8601DateFormatter().date(from: text) }
    static let berlin = TimeZone(identifier: "Europe/Berlin")

    @Test("a named zone moves the UTC instant with daylight saving; a skipped local time fires once after the gap, a repeated one once")
    func daylightSaving() throws {
        let zone = try #require(Self.berlin)
        let nightly = try CronExpression("30 2 * * *")
        // Spring forward on 2026-03-29: 02:00 CET becomes 03:00 CEST, so 02:30 does not exist.
        let spring = nightly.upcoming(3, after: try #require(Self.utc("2026-03-27T12:00:00Z")), in: zone)
        #expect(spring == [Self.utc("2026-03-28T01:30:00Z"), Self.utc("2026-03-29T01:30:00Z"), Self.utc("2026-03-30T00:30:00Z")].compactMap { $0 })
        // Fall back on 2026-10-25: 02:30 happens twice and fires the first time only.
        let fall = nightly.upcoming(3, after: try #require(Self.utc("2026-10-24T12:00:00Z")), in: zone)
        #expect(fall == [Self.utc("2026-10-25T00:30:00Z"), Self.utc("2026-10-26T01:30:00Z"), Self.utc("2026-10-27T01:30:00Z")].compactMap { $0 })
        // Weekdays at 09:00 local, across the change: 08:00Z in winter, 07:00Z in summer.
        let weekdays = try CronExpression("0 9 * * mon-fri").upcoming(2, after: try #require(Self.utc("2026-03-26T12:00:00Z")), in: zone)
        #expect(weekdays == [Self.utc("2026-03-27T08:00:00Z"), Self.utc("2026-03-30T07:00:00Z")].compactMap { $0 })
    }

    @Test("policy check shows every job's next three runs in its zone; a bad zone or a six-field expression is named with its line")
    func visible() throws {
        let policy = try PolicyLoader.parse("""
            version: 1
            repository: {path: /r}
            encryption: none
            defaults:
              schedule: {full: "0 2 * * 0", verify: "30 4 * * *", timezone: Europe/Berlin}
            shards:
              - name: main
                nodes: [{name: a, conninfo: "host=h"}]
            """, path: "/p.yaml")
        let report = PolicyCheckReport(path: "/p.yaml", policy: policy, now: try #require(Self.utc("2026-12-02T12:00:00Z")))
        #expect(report.schedules.map(\.job) == ["full", "verify"])
        #expect(report.schedules.first?.next == ["2026-12-06T02:00:00+01:00", "2026-12-13T02:00:00+01:00", "2026-12-20T02:00:00+01:00"])
        #expect(report.text.contains("main full '0 2 * * 0' (Europe/Berlin): 2026-12-06T02:00:00+01:00"), "\(report.text)")

        let bad = #expect(throws: PolicyError.self) {
            try PolicyLoader.parse("""
                version: 1
                repository: {path: /r}
                encryption: none
                defaults:
                  schedule: {full: "0 0 2 * * 0", timezone: Mars/Olympus}
                shards:
                  - name: main
                    nodes: [{name: a, conninfo: "host=h"}]
                """, path: "/p.yaml")
        }
        let messages = bad?.issues.map { "\($0.line): \($0.message)" } ?? []
        #expect(messages.contains { $0.hasPrefix("5: schedule.full: cron expression '0 0 2 * * 0' has 6 fields") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("5: schedule.timezone: 'Mars/Olympus' is not an IANA time zone name") }, "\(messages)")
    }

    @Test("the scheduler section: defaults, every key read, zero allowed where it means off, bad values named with their line")
    func schedulerSection() throws {
        let base = PolicyTests.minimal
        #expect(try PolicyLoader.parse(base, path: "/p.yaml").scheduler == .default)
        let set = try PolicyLoader.parse(base + "\nscheduler: {max_concurrent_jobs: 4, jitter: 0s, max_wait: 2h, retries: 0, retry_backoff: 5m, drain_timeout: 10m}", path: "/p.yaml")
        #expect(set.scheduler == SchedulerSettings(maxConcurrentJobs: 4, jitter: 0, maxWait: 7200, retries: 0, retryBackoff: 300, drainTimeout: 600))
        let bad = #expect(throws: PolicyError.self) {
            try PolicyLoader.parse(base + "\nscheduler:\n  max_concurrent_jobs: 0\n  retry_backoff: 0s\n  jitter: later\n  max_parallel: 2", path: "/p.yaml")
        }
        let messages = bad?.issues.map { "\($0.line): \($0.message)" } ?? []
        #expect(messages.contains { $0.hasPrefix("8: scheduler.max_concurrent_jobs must be between 1 and 256") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("9: scheduler.retry_backoff '0s' is not a duration") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("10: scheduler.jitter 'later' is not a duration") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("11: unknown key scheduler.max_parallel") }, "\(messages)")
    }

    @Test("WAL is compressed at compression.level unless archive.compression_level says otherwise; out of range is named with its line")
    func walCompressionLevel() throws {
        let base = PolicyTests.minimal + "\ncompression: {level: 6}"
        #expect(try PolicyLoader.parse(base, path: "/p.yaml").walCompressionLevel == 6)
        #expect(try PolicyLoader.parse(base + "\narchive: {compression_level: 1}", path: "/p.yaml").walCompressionLevel == 1)
        #expect(try PolicyLoader.parse(base + "\narchive: {compression_level: 0}", path: "/p.yaml").walCompressionLevel == 0)
        let bad = #expect(throws: PolicyError.self) { try PolicyLoader.parse(base + "\narchive:\n  compression_level: 25", path: "/p.yaml") }
        #expect(bad?.issues.first.map { "\($0.line): \($0.message)" }?.hasPrefix("9: archive.compression_level must be between 0 and 19") == true, "\(bad?.issues ?? [])")
    }

    @Test("the fleet section: defaults, pause and resume together, the reserved shard name")
    func fleetSection() throws {
        let base = PolicyTests.minimal
        #expect(try PolicyLoader.parse(base, path: "/p.yaml").fleet == .default)
        let set = try PolicyLoader.parse(base + "\nfleet: {parallel: 8, pause_command: 'app pause', resume_command: 'app resume', hook_timeout: 2m}", path: "/p.yaml")
        #expect(set.fleet == FleetSettings(parallel: 8, pauseCommand: "app pause", resumeCommand: "app resume", hookTimeout: 120))
        let half = #expect(throws: PolicyError.self) { try PolicyLoader.parse(base + "\nfleet: {pause_command: 'app pause'}", path: "/p.yaml") }
        #expect(half?.issues.contains { $0.message.contains("go together") } == true)
        let reserved = #expect(throws: PolicyError.self) {
            try PolicyLoader.parse(base.replacingOccurrences(of: "name: main", with: "name: _fleet"), path: "/p.yaml")
        }
        #expect(reserved?.issues.contains { $0.message.contains("'_fleet' is reserved") } == true)
    }
}
