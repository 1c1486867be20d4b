import Foundation
import VaultPostgres

/// Asks a PostgreSQL 17+ server which blocks changed between two LSNs, from its WAL summaries.
/// Every way the summaries cannot answer (summarize_wal off, the summarizer behind, a gap in
/// the summaries, another timeline) gives a reason instead, and the backup falls back to
/// reading changed files whole and comparing page LSNs.
struct WALSummaryReader {
    let conn: PostgresConnection
    /// How long to wait for the summarizer to reach the backup's start.
    var waitSeconds: Double = 60

    enum Outcome {
        case changes(ChangedBlocks, summaries: Int)
        case unavailable(String)
    }

    func changes(timeline: UInt32, from: LSN, to: LSN) async throws -> Outcome {
        guard try conn.scalar("SHOW summarize_wal") == "on" else { return .unavailable("summarize_wal is off") }
        // The summarizer ends a summary at each checkpoint's redo point; the backup's start is one.
        let deadline = Date().addingTimeInterval(waitSeconds)
        while true {
            let state = try conn.query("SELECT summarized_tli::text, summarized_lsn::text FROM pg_get_wal_summarizer_state()")
            if let row = state.first, row.count == 2, let lsn = row[1].flatMap(LSN.init), lsn >= to { break }
            if Date() >= deadline { return .unavailable("the WAL summarizer did not reach \(to) within \(Int(waitSeconds)) s") }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        let available = try conn.query("SELECT start_lsn::text, end_lsn::text FROM pg_available_wal_summaries() WHERE tli = $1 ORDER BY start_lsn", ["\(timeline)"])
        var ranges: [(LSN, LSN)] = []
        for row in available {
            guard row.count == 2, let s = row[0].flatMap(LSN.init), let e = row[1].flatMap(LSN.init) else { continue }
            if e > from && s < to { ranges.append((s, e)) }
        }
        guard let chain = Self.chain(ranges, from: from, to: to) else {
            return .unavailable("the WAL summaries on timeline \(timeline) do not cover \(from) to \(to) (removed after wal_summary_keep_time, or summarize_wal was off for a while)")
        }
        var blocks = ChangedBlocks()
        for (start, end) in chain {
            let rows = try conn.query("""
                SELECT reltablespace::text, reldatabase::text, relfilenode::text, relforknumber::text, relblocknumber::text, is_limit_block::text
                FROM pg_wal_summary_contents($1::bigint, $2::pg_lsn, $3::pg_lsn)
                """, ["\(timeline)", start.description, end.description])
            for row in rows {
                guard row.count == 6, let spc = row[0].flatMap(UInt32.init), let db = row[1].flatMap(UInt32.init),
                      let node = row[2].flatMap(UInt32.init), let fork = row[3].flatMap(UInt8.init),
                      let block = row[4].flatMap(UInt32.init), let limit = row[5] else {
                    throw OperationError(.database, "pg_wal_summary_contents returned an unexpected row: \(row)")
                }
                blocks.add(ChangedBlocks.ForkID(tablespace: spc, database: db, relfilenode: node, fork: fork), block: block, isLimit: limit == "t")
            }
        }
        return .changes(blocks, summaries: chain.count)
    }

    /// Summaries (sorted by start) that together cover `from`..<`to` without a gap, or nil.
    static func chain(_ ranges: [(LSN, LSN)], from: LSN, to: LSN) -> [(LSN, LSN)]? {
        // A range that runs backwards (a parent that began after this backup) proves nothing.
        guard from <= to else { return nil }
        var cursor = from
        var used: [(LSN, LSN)] = []
        for (start, end) in ranges.sorted(by: { $0.0 < $1.0 }) where end > cursor {
            guard start <= cursor else { return nil }
            used.append((start, end))
            cursor = end
            if cursor >= to { return used }
        }
        return cursor >= to ? used : nil
    }
}
