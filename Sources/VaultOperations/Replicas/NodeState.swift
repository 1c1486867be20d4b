import VaultPostgres

/// What one node of a shard said about itself when vault asked, or why it could not be asked.
/// Every replica decision (status, switchover, failover, rejoin) is made from these values by
/// pure code, so it is tested without servers.
public struct NodeState: Sendable, Codable, Equatable {
    public enum Role: String, Sendable, Codable, Equatable {
        /// Accepts writes (`pg_is_in_recovery()` is false).
        case primary
        /// In recovery: streaming, or replaying from the archive.
        case standby
    }

    /// The node's WAL receiver: whom it streams from (PostgreSQL's `pg_stat_wal_receiver`).
    public struct Upstream: Sendable, Codable, Equatable {
        public var status: String
        public var host: String?
        public var port: String?
        public var timeline: UInt32?

        public init(status: String, host: String?, port: String?, timeline: UInt32?) {
            self.status = status
            self.host = host
            self.port = port
            self.timeline = timeline
        }
    }

    /// One replication connection a primary serves (`pg_stat_replication`).
    public struct Downstream: Sendable, Codable, Equatable {
        public var applicationName: String
        public var state: String
        public var syncState: String
        public var replayLSN: LSN?

        public init(applicationName: String, state: String, syncState: String, replayLSN: LSN?) {
            self.applicationName = applicationName
            self.state = state
            self.syncState = syncState
            self.replayLSN = replayLSN
        }
    }

    /// The node's archiver (`pg_stat_archiver`) and its backlog of `.ready` files.
    public struct Archiver: Sendable, Codable, Equatable {
        public var failedCount: Int
        public var lastFailedWAL: String?
        public var lastArchivedWAL: String?
        public var readyCount: Int?

        public init(failedCount: Int, lastFailedWAL: String?, lastArchivedWAL: String?, readyCount: Int?) {
            self.failedCount = failedCount
            self.lastFailedWAL = lastFailedWAL
            self.lastArchivedWAL = lastArchivedWAL
            self.readyCount = readyCount
        }
    }

    public var name: String
    public var priority: Int
    /// The host and port of the node's conninfo, to tell whom a standby streams from.
    public var host: String?
    public var port: String?
    public var reachable: Bool
    /// Why the node could not be asked.
    public var error: String?
    /// Unreachable because no server answers (refused, timed out, no route): what a failover
    /// needs to believe a primary is gone. A refused password does not count.
    public var down: Bool
    public var systemIdentifier: String?
    public var role: Role?
    public var timeline: UInt32?
    /// A primary's current WAL insert position.
    public var currentLSN: LSN?
    /// A standby's last received and last replayed positions.
    public var receiveLSN: LSN?
    public var replayLSN: LSN?
    public var replayPaused: Bool?
    /// Seconds since the last replayed transaction committed on the primary (a standby).
    public var replayDelaySeconds: Double?
    public var upstream: Upstream?
    public var downstream: [Downstream]
    public var archiver: Archiver?
    public var synchronousStandbyNames: String?

    public init(name: String, priority: Int, host: String? = nil, port: String? = nil, reachable: Bool, error: String? = nil, down: Bool = false,
                systemIdentifier: String? = nil, role: Role? = nil, timeline: UInt32? = nil, currentLSN: LSN? = nil,
                receiveLSN: LSN? = nil, replayLSN: LSN? = nil, replayPaused: Bool? = nil, replayDelaySeconds: Double? = nil,
                upstream: Upstream? = nil, downstream: [Downstream] = [], archiver: Archiver? = nil, synchronousStandbyNames: String? = nil) {
        self.name = name
        self.priority = priority
        self.host = host
        self.port = port
        self.reachable = reachable
        self.error = error
        self.down = down
        self.systemIdentifier = systemIdentifier
        self.role = role
        self.timeline = timeline
        self.currentLSN = currentLSN
        self.receiveLSN = receiveLSN
        self.replayLSN = replayLSN
        self.replayPaused = replayPaused
        self.replayDelaySeconds = replayDelaySeconds
        self.upstream = upstream
        self.downstream = downstream
        self.archiver = archiver
        self.synchronousStandbyNames = synchronousStandbyNames
    }

    /// The furthest WAL position this node is known to hold: a primary's insert position, a
    /// standby's received (or, if it streams nothing, replayed) position.
    public var position: LSN? {
        role == .primary ? currentLSN : [receiveLSN, replayLSN].compactMap { $0 }.max()
    }

    /// Whether this standby streams from `node`: the node lists it (by the `application_name`
    /// vault gives re-pointed standbys) among its streaming connections, or its WAL receiver's
    /// host and port are the node's.
    public func streams(from node: NodeState) -> Bool {
        guard let upstream, upstream.status == "streaming" else { return false }
        if node.downstream.contains(where: { $0.applicationName == name && $0.state == "streaming" }) { return true }
        guard let host = upstream.host, let port = upstream.port else { return false }
        return Self.sameHost(host, node.host) && port == (node.port ?? "5432")
    }

    static func sameHost(_ a: String, _ b: String?) -> Bool {
        let local: Set<String> = ["localhost", "127.0.0.1", "::1"]
        let b = b ?? "localhost"
        return a == b || (local.contains(a) && local.contains(b))
    }
}
