/// The blocks of each relation fork that WAL changed since a parent backup began, from
/// PostgreSQL 17+'s WAL summaries (`summarize_wal = on`). With them an incremental backup reads
/// only those blocks of a changed relation file instead of the whole file: on a large table
/// with scattered updates, a few MiB instead of every GiB.
///
/// Blocks not listed are unchanged since the parent's start LSN, so the parent's copy is still
/// right for the backup's start (WAL replay from there restores anything changed after it).
/// A "limit block" is the shortest length a fork was truncated to (0 when it was created) in
/// the range: every block from there on counts as changed.
public struct ChangedBlocks: Sendable {
    public struct Fork: Sendable, Equatable {
        /// Blocks at or after this one count as changed.
        public var limit: UInt32?
        public var blocks: Set<UInt32>

        public init(limit: UInt32? = nil, blocks: Set<UInt32> = []) {
            self.limit = limit
            self.blocks = blocks
        }

        public func contains(_ block: UInt32) -> Bool {
            if let limit, block >= limit { return true }
            return blocks.contains(block)
        }
    }

    /// Keyed by `ForkID`.
    public private(set) var forks: [ForkID: Fork]

    public init(forks: [ForkID: Fork] = [:]) {
        self.forks = forks
    }

    /// A relation fork as WAL summaries name it.
    public struct ForkID: Hashable, Sendable {
        public var tablespace: UInt32
        public var database: UInt32
        public var relfilenode: UInt32
        public var fork: UInt8

        public init(tablespace: UInt32, database: UInt32, relfilenode: UInt32, fork: UInt8) {
            self.tablespace = tablespace
            self.database = database
            self.relfilenode = relfilenode
            self.fork = fork
        }

        /// The fork a data directory path belongs to, and the segment of it the file holds:
        /// `base/DB/NODE[_fork][.seg]` (tablespace pg_default, 1663), `global/NODE…` (pg_global,
        /// 1664, database 0) or `pg_tblspc/SPC/PG_…/DB/NODE…`.
        public static func of(path: String) -> (ForkID, segment: Int)? {
            let parts = path.split(separator: "/").map(String.init)
            guard let last = parts.last, let file = RelationFile(last), let node = UInt32(file.node) else { return nil }
            let fork: UInt8
            switch file.fork {
            case nil: fork = 0
            case "fsm": fork = 1
            case "vm": fork = 2
            case "init": fork = 3
            default: return nil
            }
            let tablespace: UInt32, database: UInt32
            if parts.count == 3, parts[0] == "base", let db = UInt32(parts[1]) {
                (tablespace, database) = (1663, db)
            } else if parts.count == 2, parts[0] == "global" {
                (tablespace, database) = (1664, 0)
            } else if parts.count == 5, parts[0] == "pg_tblspc", let spc = UInt32(parts[1]), let db = UInt32(parts[3]) {
                (tablespace, database) = (spc, db)
            } else {
                return nil
            }
            return (ForkID(tablespace: tablespace, database: database, relfilenode: node, fork: fork), file.segment)
        }
    }

    /// Records one row of `pg_wal_summary_contents`.
    public mutating func add(_ id: ForkID, block: UInt32, isLimit: Bool) {
        var fork = forks[id] ?? Fork()
        if isLimit {
            fork.limit = min(fork.limit ?? block, block)
        } else {
            fork.blocks.insert(block)
        }
        forks[id] = fork
    }

    /// What changed in the fork `path` belongs to; an empty fork when WAL did not touch it.
    /// A summary entry with relfilenode 0 means the whole database directory in that
    /// tablespace was created or dropped in the range (CREATE DATABASE copies files without
    /// logging them one by one): then everything in it counts as changed.
    public func changes(forPath path: String) -> (Fork, segment: Int)? {
        guard let (id, segment) = ForkID.of(path: path) else { return nil }
        let wholeDatabase = ForkID(tablespace: id.tablespace, database: id.database, relfilenode: 0, fork: 0)
        if forks[wholeDatabase] != nil { return (Fork(limit: 0), segment) }
        return (forks[id] ?? Fork(), segment)
    }

    public var blockCount: Int { forks.values.reduce(0) { $0 + $1.blocks.count } }
}
