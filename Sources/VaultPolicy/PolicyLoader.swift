import Foundation
import Yams
import VaultSystem
import VaultStorage

/// Loads and validates a policy file. Every problem is collected with its line, so
/// `vault policy check` can list them all at once.
public enum PolicyLoader {
    /// Where the policy comes from when `--policy` is not given.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let p = environment["VAULT_POLICY"], !p.isEmpty { return p }
        if FileManager.default.fileExists(atPath: "vault.yaml") { return "vault.yaml" }
        return "/etc/vault/vault.yaml"
    }

    /// Reads and validates `path`; throws `PolicyError` listing every problem.
    public static func load(path: String) throws -> Policy {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.read(path, protection: .writableByOwnerOnly)
        } catch let e as SystemError {
            throw PolicyError(path: path, unreadable: e.message)
        }
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return try parse(String(decoding: bytes, as: UTF8.self), path: absolute)
    }

    /// Parses policy text; `path` is used in messages and recorded in the result.
    public static func parse(_ text: String, path: String) throws -> Policy {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw PolicyError(path: path, issues: [PolicyIssue(line: 1, column: 1, message: "the policy file is empty")])
            }
            root = node
        } catch let e as PolicyError {
            throw e
        } catch let e as YamlError {
            throw PolicyError(path: path, issues: [yamlIssue(e)])
        } catch {
            throw PolicyError(path: path, issues: [PolicyIssue(line: 1, column: 1, message: "not valid YAML: \(error)")])
        }
        let issues = IssueList()
        let policy = read(root, path: path, issues: issues)
        ShardMapValidator.validate(policy?.shards ?? [], issues: issues)
        let sorted = issues.items.sorted { ($0.line, $0.column) < ($1.line, $1.column) }
        guard sorted.isEmpty, let policy else { throw PolicyError(path: path, issues: sorted) }
        return policy
    }

    private static func yamlIssue(_ error: YamlError) -> PolicyIssue {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _):
            return PolicyIssue(line: mark.line, column: mark.column, message: "YAML syntax: \(problem)")
        default:
            let first = String(describing: error).split(separator: "\n").first.map(String.init) ?? "invalid YAML"
            return PolicyIssue(line: 1, column: 1, message: "YAML: \(first)")
        }
    }

    private static func read(_ root: Node, path: String, issues: IssueList) -> Policy? {
        guard let top = MappingReader(root, path: "", issues: issues) else { return nil }
        let version = top.int("version", required: true) ?? 1
        if version != 1 { issues.add(top.value("version"), "version \(version) is not supported (this vault reads version 1)") }

        let requireTLS = top.bool("require_tls") ?? false
        var repository = RepositorySettings()
        if let r = top.mapping("repository", required: true) {
            repository = readRepository(r, requireTLS: requireTLS, issues: issues)
            r.finish()
        }
        let encryption = readEncryption(top, issues: issues)
        var compression = CompressionSettings(level: 3)
        if let c = top.mapping("compression") {
            compression.level = Int32(c.int("level", range: 0...19) ?? 3)
            c.finish()
        }
        var archive = ArchiveSettings.default
        if let a = top.mapping("archive") {
            archive.pushAhead = Int(a.int("push_ahead", range: 0...16) ?? 0)
            archive.spool = a.string("spool")
            archive.getAhead = Int(a.int("get_ahead", range: 0...64) ?? Int64(ArchiveSettings.default.getAhead))
            archive.compressionLevel = a.int("compression_level", range: 0...19).map { Int32($0) }
            if let spool = archive.spool, !spool.hasPrefix("/") { issues.add(a.value("spool"), "archive.spool must be an absolute path") }
            a.finish()
        }
        var verify = VerifySettings.default
        if let v = top.mapping("verify") {
            verify.scratch = v.string("scratch") ?? verify.scratch
            if !verify.scratch.hasPrefix("/") { issues.add(v.value("scratch"), "verify.scratch must be an absolute path") }
            v.finish()
        }
        var scheduler = SchedulerSettings.default
        if let m = top.mapping("scheduler") {
            scheduler = readScheduler(m, issues: issues)
            m.finish()
        }
        var fleet = FleetSettings.default
        if let m = top.mapping("fleet") {
            if let n = m.int("parallel", range: 1...256) { fleet.parallel = Int(n) }
            fleet.pauseCommand = m.string("pause_command")
            fleet.resumeCommand = m.string("resume_command")
            if let text = m.string("hook_timeout") {
                if let seconds = PolicyDuration.parseSeconds(text) { fleet.hookTimeout = seconds } else {
                    issues.add(m.value("hook_timeout"), "fleet.hook_timeout '\(text)' is not a duration like 30s or 2m")
                }
            }
            if (fleet.pauseCommand == nil) != (fleet.resumeCommand == nil) {
                issues.add(m.node, "fleet.pause_command and fleet.resume_command go together: give both or neither")
            }
            m.finish()
        }
        var defaults = ShardSettings.builtIn
        if let d = top.mapping("defaults") {
            defaults = readSettings(d, inheriting: .builtIn, issues: issues)
            d.finish()
        }
        var shards: [ShardPolicy] = []
        if let list = top.sequence("shards", required: true) {
            if list.isEmpty { issues.add(top.value("shards"), "shards must list at least one shard") }
            for (i, node) in list.enumerated() {
                if let s = readShard(node, index: i, defaults: defaults, requireTLS: requireTLS, issues: issues) { shards.append(s) }
            }
        }
        top.finish()
        return Policy(version: Int(version), repository: repository, encryption: encryption, compression: compression,
                      archive: archive, verify: verify, scheduler: scheduler, fleet: fleet, defaults: defaults, shards: shards, sourcePath: path,
                      requireTLS: requireTLS)
    }

    private static func readScheduler(_ m: MappingReader, issues: IssueList) -> SchedulerSettings {
        var s = SchedulerSettings.default
        if let n = m.int("max_concurrent_jobs", range: 1...256) { s.maxConcurrentJobs = Int(n) }
        if let n = m.int("retries", range: 0...100) { s.retries = Int(n) }
        func duration(_ key: String, zeroAllowed: Bool) -> Int? {
            guard let text = m.string(key) else { return nil }
            if zeroAllowed, text == "0" || text == "0s" { return 0 }
            guard let seconds = PolicyDuration.parseSeconds(text) else {
                issues.add(m.value(key), "scheduler.\(key) '\(text)' is not a duration like 30s, 5m or 1h")
                return nil
            }
            return seconds
        }
        s.jitter = duration("jitter", zeroAllowed: true) ?? s.jitter
        s.maxWait = duration("max_wait", zeroAllowed: true) ?? s.maxWait
        s.retryBackoff = duration("retry_backoff", zeroAllowed: false) ?? s.retryBackoff
        s.drainTimeout = duration("drain_timeout", zeroAllowed: true) ?? s.drainTimeout
        return s
    }

    private static func readRepository(_ r: MappingReader, requireTLS: Bool, issues: IssueList) -> RepositorySettings {
        var settings = RepositorySettings()
        settings.path = r.string("path")
        if let s3 = r.mapping("s3") {
            let endpoint = s3.string("endpoint", required: true) ?? ""
            let bucket = s3.string("bucket", required: true) ?? ""
            settings.s3 = S3Settings(
                endpoint: endpoint, bucket: bucket, region: s3.string("region") ?? "us-east-1",
                prefix: s3.string("prefix") ?? "", credentialsFile: s3.string("credentials_file"),
                caFile: s3.string("ca_file"), forcePathStyle: s3.bool("force_path_style") ?? true,
                leaseSeconds: Double(s3.int("lease_seconds", range: 2...3600) ?? 60))
            if let p = settings.s3?.prefix, !p.isEmpty, !p.hasSuffix("/") { issues.add(s3.value("prefix"), "repository.s3.prefix must end with '/'") }
            if requireTLS, !endpoint.lowercased().hasPrefix("https://") {
                issues.add(s3.value("endpoint"), "repository.s3.endpoint '\(endpoint)' is not https:// and the policy says require_tls: true")
            }
            s3.finish()
        }
        if settings.path == nil && settings.s3 == nil {
            issues.add(r.node, "repository needs either path or s3")
        } else if settings.path != nil && settings.s3 != nil {
            issues.add(r.node, "repository has both path and s3; choose one")
        }
        if let p = settings.path, !p.hasPrefix("/") {
            issues.add(r.value("path"), "repository.path must be an absolute path, got '\(p)'")
        }
        return settings
    }

    private static func readEncryption(_ top: MappingReader, issues: IssueList) -> EncryptionSettings {
        guard let node = top.value("encryption") else {
            issues.add(top.node, "encryption is missing: give passphrase_file, passphrase_env, passphrase_command or key_file, or write 'encryption: none' for an unencrypted repository")
            return .none
        }
        if case .scalar(let s) = node {
            if s.string == "none" { return .none }
            issues.add(node, "encryption must be 'none' or a mapping with passphrase_file, passphrase_env, passphrase_command or key_file")
            return .none
        }
        guard let e = MappingReader(node, path: "encryption", issues: issues) else { return .none }
        var sources: [EncryptionSettings] = []
        if let f = e.string("passphrase_file") {
            if !f.hasPrefix("/") { issues.add(e.value("passphrase_file"), "encryption.passphrase_file must be an absolute path") }
            sources.append(.passphraseFile(f))
        }
        if let k = e.string("key_file") {
            if !k.hasPrefix("/") { issues.add(e.value("key_file"), "encryption.key_file must be an absolute path") }
            sources.append(.keyFile(k))
        }
        if let v = e.string("passphrase_env") { sources.append(.passphraseEnv(v)) }
        if let c = e.string("passphrase_command") { sources.append(.passphraseCommand(c)) }
        e.finish()
        if sources.count != 1 {
            issues.add(node, "encryption needs exactly one of passphrase_file, passphrase_env, passphrase_command, key_file (found \(sources.count))")
            return .none
        }
        return sources[0]
    }

    private static func readSettings(_ m: MappingReader, inheriting base: ShardSettings, issues: IssueList) -> ShardSettings {
        var s = base
        if let sched = m.mapping("schedule") {
            func cron(_ key: String) -> CronExpression? {
                guard let text = sched.string(key) else { return nil }
                do { return try CronExpression(text) } catch {
                    issues.add(sched.value(key), "schedule.\(key): \(error.message)")
                    return nil
                }
            }
            var zone = base.schedule.namedTimeZone
            if let name = sched.string("timezone") {
                if let z = TimeZone(identifier: name), name.contains("/") || name == "UTC" {
                    zone = z
                } else {
                    issues.add(sched.value("timezone"), "schedule.timezone: '\(name)' is not an IANA time zone name (such as UTC or Europe/Berlin)")
                }
            }
            s.schedule = ScheduleSettings(full: cron("full") ?? base.schedule.full, incremental: cron("incremental") ?? base.schedule.incremental,
                                          verify: cron("verify") ?? base.schedule.verify, expire: cron("expire") ?? base.schedule.expire,
                                          timeZone: zone)
            sched.finish()
        }
        if let r = m.mapping("retention") {
            let full = r.int("full_backups", range: 1...10_000).map(Int.init)
            var window: Int?
            if let text = r.string("window") {
                window = PolicyDuration.parseSeconds(text)
                if window == nil { issues.add(r.value("window"), "retention.window '\(text)' is not a duration like 30d, 4w or 12h") }
            }
            var grace = base.retention.orphanGrace
            if let text = r.string("orphan_grace") {
                if text == "0" || text == "0s" {
                    grace = 0
                } else if let seconds = PolicyDuration.parseSeconds(text) {
                    grace = seconds
                } else {
                    issues.add(r.value("orphan_grace"), "retention.orphan_grace '\(text)' is not a duration like 24h, 30m or 0s")
                }
            }
            s.retention = RetentionSettings(fullBackups: full ?? (window == nil ? base.retention.fullBackups : nil), window: window, orphanGrace: grace)
            r.finish()
        }
        if let p = m.int("parallel", range: 1...64) { s.parallel = Int(p) }
        if let b = m.mapping("backup") {
            if let from = b.string("from") {
                if let src = BackupSource(rawValue: from) { s.backupFrom = src } else {
                    issues.add(b.value("from"), "backup.from must be primary, standby or prefer-standby, got '\(from)'")
                }
            }
            if let text = b.string("archive_timeout") {
                if let seconds = PolicyDuration.parseSeconds(text) { s.archiveTimeout = seconds } else {
                    issues.add(b.value("archive_timeout"), "backup.archive_timeout '\(text)' is not a duration like 90s, 5m or 1h")
                }
            }
            b.finish()
        }
        return s
    }

    private static func readShard(_ node: Node, index: Int, defaults: ShardSettings, requireTLS: Bool, issues: IssueList) -> ShardPolicy? {
        guard let m = MappingReader(node, path: "shards[\(index)]", issues: issues) else { return nil }
        defer { m.finish() }
        let name = m.string("name", required: true) ?? ""
        if !name.isEmpty && !ShardMapValidator.isValidName(name) {
            issues.add(m.value("name"), name == ShardMapValidator.reservedName
                       ? "shard name '\(name)' is reserved (the repository keeps restore points under it)"
                       : "shard name '\(name)' may use only letters, digits, '-', '_' and '.'")
        }
        var keys: KeyRange?
        if let k = m.mapping("keys") {
            if let from = k.int("from", required: true), let to = k.int("to", required: true) {
                if from > to { issues.add(k.node, "shard \(name): keys.from \(from) is greater than keys.to \(to)") } else { keys = KeyRange(from: from, to: to) }
            }
            k.finish()
        }
        var nodes: [NodePolicy] = []
        if let list = m.sequence("nodes", required: true) {
            if list.isEmpty { issues.add(m.value("nodes"), "shard \(name) must list at least one node") }
            for (j, n) in list.enumerated() {
                guard let nm = MappingReader(n, path: "shards[\(index)].nodes[\(j)]", issues: issues) else { continue }
                let nodeName = nm.string("name", required: true) ?? ""
                let conninfo = nm.string("conninfo", required: true) ?? ""
                if conninfo.range(of: #"(^|\s)password\s*="#, options: .regularExpression) != nil
                    || conninfo.range(of: #"://[^/@\s]*:[^/@\s]*@"#, options: .regularExpression) != nil {
                    issues.add(nm.value("conninfo"), "node \(nodeName): conninfo contains a password; use ~/.pgpass or PGPASSFILE instead")
                }
                if requireTLS, let problem = TLSRequirement.problem(conninfo: conninfo) {
                    issues.add(nm.value("conninfo"), "node \(nodeName): \(problem) and the policy says require_tls: true")
                }
                nodes.append(NodePolicy(
                    name: nodeName, conninfo: conninfo, priority: Int(nm.int("priority", range: 0...1_000_000) ?? 100),
                    pgdata: nm.string("pgdata"), stopCommand: nm.string("stop_command"), startCommand: nm.string("start_command")))
                nm.finish()
            }
            var seen = Set<String>()
            for (j, n) in nodes.enumerated() where !seen.insert(n.name).inserted {
                issues.add(list[j], "shard \(name): node name '\(n.name)' is used twice")
            }
        }
        var failover = FailoverSettings()
        if let f = m.mapping("failover") {
            failover.maxLagBytes = f.int("max_lag_bytes", range: 0...Int64.max)
            failover.fenceCommand = f.string("fence_command")
            f.finish()
        }
        var smoke: [SmokeQuery] = []
        if let v = m.mapping("verify") {
            for (j, q) in (v.sequence("smoke") ?? []).enumerated() {
                guard let qm = MappingReader(q, path: "shards[\(index)].verify.smoke[\(j)]", issues: issues) else { continue }
                smoke.append(SmokeQuery(sql: qm.string("sql", required: true) ?? "", expect: qm.string("expect", required: true) ?? "",
                                        database: qm.string("database")))
                qm.finish()
            }
            v.finish()
        }
        let settings = readSettings(m, inheriting: defaults, issues: issues)
        return ShardPolicy(name: name, keys: keys, pgdata: m.string("pgdata"), bindir: m.string("bindir"), nodes: nodes,
                           failover: failover, smoke: smoke, settings: settings, line: node.mark?.line ?? 1)
    }
}

/// Durations in policy files: a number followed by s, m, h, d or w.
public enum PolicyDuration {
    public static func parseSeconds(_ text: String) -> Int? {
        guard let unit = text.last, let n = Int(text.dropLast()), n > 0 else { return nil }
        let scale: Int
        switch unit {
        case "s": scale = 1
        case "m": scale = 60
        case "h": scale = 3600
        case "d": scale = 86400
        case "w": scale = 7 * 86400
        default: return nil
        }
        // Too large to be a time span (and it would overflow): a policy error, not a crash.
        let (seconds, overflow) = n.multipliedReportingOverflow(by: scale)
        return overflow || seconds > 100 * 365 * 86400 ? nil : seconds

    }
}
