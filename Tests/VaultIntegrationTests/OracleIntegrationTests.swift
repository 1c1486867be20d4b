import Foundation
import Testing
import VaultSupport
import VaultSystem
import VaultStorage
import VaultCrypto
import VaultPostgres
import VaultPolicy
import VaultFormat
import VaultOperations

/// A restore checked against an oracle that is not vault: pg_dump of every database of the
/// source, taken at a named restore point, must equal byte for byte pg_dump of the copy that
/// vault restored (full + incremental + archived WAL) to that point.
@Suite("restore checked against pg_dump")
struct OracleIntegrationTests {
    @Test("an incremental restored to a named point dumps exactly as the source did there, with TOAST, large objects, every index AM, partitions, a tablespace and FILE_COPY databases",
          arguments: PostgresVersion.available)
    func pgDumpOracle(version: PostgresVersion) async throws {
        let f = try VaultFixture("oracle-\(version.rawValue)")
        defer { f.cleanUp() }
        let server: PostgresServer
        if version == .v18 {
            // The incremental then takes the WAL-summary path (checked below), not the page-LSN one.
            server = try f.startServer(version)
            try server.configure(["summarize_wal = on"])
            try f.writePolicy(server: server)
            try server.start()
            try f.initRepository()
        } else {
            server = try f.startInitialised(version)
        }
        defer { server.stop() }

        let location = f.dir.path + "/ts"
        try FileManager.default.createDirectory(atPath: location, withIntermediateDirectories: true)
        try TestDirectory.giveToPostgres(location)
        try server.sql("CREATE TABLESPACE extra LOCATION '\(location)'")
        let oid = try #require(try server.sql("SELECT oid::text FROM pg_tablespace WHERE spcname = 'extra'"))

        // Sequences: pg_dump prints their last_value, and PostgreSQL WAL-logs nextval 32 values
        // ahead, so a sequence advanced after the last backup's start replays to a value up to
        // 32 beyond the source's (documented PostgreSQL behaviour, not a restore defect).
        // Every nextval here therefore happens before the incremental starts: the restored
        // sequences then come from the backed-up pages alone and must match exactly.
        try execEach(server, [
            // TOAST: 16 000-byte values stored out of line uncompressed, and a compressed column.
            "CREATE TABLE toasted(id int PRIMARY KEY, body text, packed text)",
            "ALTER TABLE toasted ALTER body SET STORAGE EXTERNAL",
            "INSERT INTO toasted SELECT g, repeat(md5(g::text), 500), repeat(md5((g * 7)::text), 400) FROM generate_series(1, 300) g",
            // Large objects.
            "CREATE TABLE blobs(id int PRIMARY KEY, lo oid NOT NULL)",
            "INSERT INTO blobs SELECT g, lo_from_bytea(0, convert_to(repeat(md5(g::text), 300 + g), 'UTF8')) FROM generate_series(1, 20) g",
            // One index of every access method, each on its own column.
            """
            CREATE TABLE idx(id int, k int, r int4range, p point, doc tsvector, tags int[], name text, n int)
            """,
            """
            INSERT INTO idx SELECT g, g % 1000, int4range(g, g + 10 + g % 50), point(g % 100, g / 100),
                to_tsvector('simple', 'word' || (g % 97) || ' term' || (g % 13)), ARRAY[g % 10, g % 7, g % 3], 'name-' || (g % 500), g
            FROM generate_series(1, 20000) g
            """,
            "CREATE INDEX idx_btree ON idx (id)",
            "CREATE INDEX idx_hash ON idx USING hash (k)",
            "CREATE INDEX idx_gist_range ON idx USING gist (r)",
            "CREATE INDEX idx_gist_point ON idx USING gist (p)",
            "CREATE INDEX idx_gin_doc ON idx USING gin (doc)",
            "CREATE INDEX idx_gin_tags ON idx USING gin (tags)",
            "CREATE INDEX idx_spgist ON idx USING spgist (name)",
            "CREATE INDEX idx_brin ON idx USING brin (n) WITH (pages_per_range = 4)",
            // A range-partitioned table, two of its partitions in the tablespace.
            "CREATE TABLE parted(id int NOT NULL, v text) PARTITION BY RANGE (id)",
            "CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (10000)",
            "CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM (10000) TO (20000) TABLESPACE extra",
            "CREATE TABLE parted_3 PARTITION OF parted FOR VALUES FROM (20000) TO (30000) TABLESPACE extra",
            "CREATE INDEX parted_id ON parted (id)",
            "INSERT INTO parted SELECT g, md5(g::text) FROM generate_series(0, 29999) g",
            // A materialized view (pg_dump prints only its definition: its rows are compared below).
            "CREATE MATERIALIZED VIEW mv AS SELECT k, count(*) AS n, sum(id) AS s FROM idx GROUP BY k",
            "CREATE UNIQUE INDEX mv_k ON mv (k)",
            // Sequences, used and advanced.
            "CREATE SEQUENCE seq_a",
            "SELECT nextval('seq_a') FROM generate_series(1, 100)",
            "CREATE SEQUENCE seq_b INCREMENT 5 START 1000",
            "SELECT nextval('seq_b') FROM generate_series(1, 10)",
            "CREATE TABLE with_serial(id bigserial PRIMARY KEY, v text)",
            "INSERT INTO with_serial(v) SELECT md5(g::text) FROM generate_series(1, 500) g",
            "CREATE TABLE ident(id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v int)",
            "INSERT INTO ident(v) SELECT g FROM generate_series(1, 300) g",
            // An unlogged table with rows (and an index: its init fork must come back too).
            "CREATE UNLOGGED TABLE scratch(id int PRIMARY KEY, v text)",
            "INSERT INTO scratch SELECT g, md5(g::text) FROM generate_series(1, 5000) g",
            // A table (and an index) in the tablespace.
            "CREATE TABLE far(id int, v text) TABLESPACE extra",
            "INSERT INTO far SELECT g, md5(g::text) FROM generate_series(1, 10000) g",
            "CREATE INDEX far_id ON far (id) TABLESPACE extra",
            // Tables for CLUSTER, TRUNCATE and SET TABLESPACE between the backups.
            "CREATE TABLE cl(id int, v text)",
            "INSERT INTO cl SELECT g, md5(g::text) FROM generate_series(1, 10000) g",
            "CREATE INDEX cl_v ON cl (v)",
            "CREATE TABLE tr(id int PRIMARY KEY, v text)",
            "INSERT INTO tr SELECT g, 'before ' || g FROM generate_series(1, 3000) g",
            "CREATE TABLE moved(id int PRIMARY KEY, v text)",
            "INSERT INTO moved SELECT g, md5(g::text) FROM generate_series(1, 8000) g",
            "CREATE TABLE marker(id int PRIMARY KEY, note text)",
            "INSERT INTO marker VALUES (1, 'before the restore point')",
        ])
        // A database created WAL_LOG before the full backup (FILE_COPY comes after it).
        try execEach(server, ["CREATE DATABASE d_wal STRATEGY WAL_LOG"])
        try execEach(server, db: "d_wal", [
            "CREATE TABLE w(id int PRIMARY KEY, v text)",
            "INSERT INTO w SELECT g, md5(g::text) FROM generate_series(1, 4000) g",
        ])
        // Settle the data and let its mtimes age past the full backup's start, as old data is.
        try server.sql("CHECKPOINT")
        try await Task.sleep(nanoseconds: 2_100_000_000)

        let full = try f.vault(["backup", "--type", "full"], environment: manyChunks)
        try #require(full.status == 0, "full backup exited \(full.status): \(full.stderr)")

        try execEach(server, [
            "DELETE FROM toasted WHERE id % 3 = 0",
            "VACUUM FULL toasted",
            "CLUSTER cl USING cl_v",
            "TRUNCATE tr",
            "INSERT INTO tr SELECT g, 'after ' || g FROM generate_series(1, 2500) g",
            "ALTER TABLE moved SET TABLESPACE extra",
            "UPDATE idx SET k = k + 1, r = int4range(id, id + 3), p = point(p[0] + 1, p[1]), doc = to_tsvector('simple', 'changed word' || (id % 11)), tags = tags || 99, name = name || '-x' WHERE id % 17 = 0",
            "DELETE FROM idx WHERE id % 29 = 0",
            "INSERT INTO idx SELECT g, g % 1000, int4range(g, g + 5), point(g % 50, g / 50), to_tsvector('simple', 'new word' || (g % 5)), ARRAY[g % 4], 'new-' || g, g FROM generate_series(20001, 23000) g",
            "UPDATE parted SET id = id + 10000 WHERE id % 101 = 0 AND id < 10000",
            "DELETE FROM parted WHERE id % 37 = 0",
            "CREATE TABLE parted_4 PARTITION OF parted FOR VALUES FROM (30000) TO (40000) TABLESPACE extra",
            "INSERT INTO parted SELECT g, 'new ' || g FROM generate_series(30000, 33000) g",
            "UPDATE far SET v = 'changed' WHERE id % 13 = 0",
            "INSERT INTO scratch SELECT g, md5(g::text) FROM generate_series(5001, 6000) g",
            "REFRESH MATERIALIZED VIEW mv",
            "SELECT nextval('seq_b') FROM generate_series(1, 37)",
            "INSERT INTO with_serial(v) SELECT 'second ' || g FROM generate_series(1, 200) g",
            "DELETE FROM with_serial WHERE id % 9 = 0",
            "INSERT INTO ident(v) SELECT -g FROM generate_series(1, 50) g",
            "SELECT lo_put(lo, 10, convert_to('overwritten', 'UTF8')) FROM blobs WHERE id = 3",
            "SELECT lo_unlink(lo) FROM blobs WHERE id = 4",
            "DELETE FROM blobs WHERE id = 4",
            "INSERT INTO blobs SELECT g, lo_from_bytea(0, convert_to(repeat('new' || g, 1000), 'UTF8')) FROM generate_series(21, 25) g",
        ])
        try execEach(server, db: "d_wal", ["UPDATE w SET v = 'changed' WHERE id % 5 = 0", "INSERT INTO w SELECT g, 'new' FROM generate_series(4001, 4500) g"])
        // A FILE_COPY database created since the full backup: the incremental must carry it.
        try execEach(server, ["CREATE DATABASE d_copy STRATEGY FILE_COPY"])
        try execEach(server, db: "d_copy", [
            "CREATE TABLE c(id int PRIMARY KEY, v text)",
            "INSERT INTO c SELECT g, md5(g::text) FROM generate_series(1, 3000) g",
        ])

        let incremental = try f.vault(["backup", "--type", "incremental"], environment: manyChunks)
        try #require(incremental.status == 0, "incremental backup exited \(incremental.status): \(incremental.stderr)")
        for head in try await f.openRepository().heads(shard: "main") {
            #expect((head.chunks?.count ?? 0) > 20, "backup \(head.id) is stored in many chunks")
        }
        if version == .v18 {
            #expect(incremental.stderr.contains("changed blocks in"), "the incremental used WAL summaries: \(incremental.stderr)")
        }

        // A few more changes, replayed from the archive (none advances a sequence; see above).
        try execEach(server, [
            "UPDATE idx SET name = name || '-y', tags = tags || 7 WHERE id % 23 = 0",
            "INSERT INTO idx SELECT g, g % 1000, int4range(g, g + 2), point(1, 1), to_tsvector('simple', 'late'), ARRAY[1], 'late-' || g, g FROM generate_series(23001, 23500) g",
            "DELETE FROM toasted WHERE id % 10 = 1",
            "UPDATE toasted SET body = repeat(md5((id + 1)::text), 600) WHERE id % 10 = 2",
            "INSERT INTO parted SELECT g, 'late ' || g FROM generate_series(33001, 34000) g",
            "UPDATE moved SET v = 'late' WHERE id % 7 = 0",
            "REFRESH MATERIALIZED VIEW CONCURRENTLY mv",
            "SELECT lo_put(lo, 0, convert_to('late', 'UTF8')) FROM blobs WHERE id = 5",
            "CREATE TABLE late(id int PRIMARY KEY) TABLESPACE extra",
            "INSERT INTO late SELECT generate_series(1, 1000)",
        ])
        try execEach(server, db: "d_copy", ["UPDATE c SET v = 'late' WHERE id % 4 = 0"])
        try server.sql("SELECT pg_create_restore_point('oracle')")

        // The source is quiet from here until its dumps are taken: they are the oracle.
        let sourceDumps = try dumpEveryDatabase(server)
        let sourceChecks = try Self.indexChecks.map { try server.sql(Self.forceIndexes + $0.query) }
        let sourceView = try server.sql(Self.viewRows)
        #expect(sourceDumps.map(\.name) == ["d_copy", "d_wal", "postgres", "template1"])

        // A commit after the restore point, archived: the copy must stop before it.
        try server.sql("INSERT INTO marker VALUES (2, 'after the restore point')")
        try await waitUntilArchived(server, segment: try #require(try server.sql("SELECT pg_walfile_name(pg_switch_wal())")))

        // The source still runs in its tablespace, so the copy's goes elsewhere (vault creates it).
        let moved = f.dir.path + "/ts-restored"
        let copy = try await f.restoreAndRecover("restored", version: version, ["--target-name", "oracle", "--tablespace-map", "\(oid)=\(moved)"])
        defer { copy.stop() }
        #expect(copy.log().contains("recovery stopping at restore point \"oracle\""), "\(copy.log().suffix(3000))")
        #expect(try copy.sql("SELECT pg_tablespace_location(\(oid))") == moved)

        let copyDumps = try dumpEveryDatabase(copy)
        #expect(copyDumps.map(\.name) == sourceDumps.map(\.name), "the copy has the source's databases")
        for (source, restored) in zip(sourceDumps, copyDumps) where source.name == restored.name {
            let same = restored.dump == source.dump
            let detail = same ? "" : try dumpDiff(source.dump, restored.dump, in: f.dir)
            #expect(same, "pg_dump of \(source.name) differs between the source and the restored copy:\n\(detail)\ncopy log:\n\(copy.log().suffix(2000))")
        }

        // What pg_dump does not print: index contents per access method, and the view's rows.
        for (check, expected) in zip(Self.indexChecks, sourceChecks) {
            let plan = try copy.connect().query(Self.forceIndexes + "EXPLAIN (COSTS OFF) " + check.query).compactMap { $0.first ?? nil }.joined(separator: "\n")
            #expect(plan.contains(check.index), "the query for \(check.index) uses it:\n\(plan)")
            #expect(try copy.sql(Self.forceIndexes + check.query) == expected, "through \(check.index): \(check.query)")
        }
        #expect(try copy.sql(Self.viewRows) == sourceView, "the materialized view's rows")

        #expect(try copy.sql("SELECT count(*) FROM marker WHERE id = 2") == "0", "the commit after the restore point is not in the copy")
        #expect(try copy.sql("SELECT count(*) FROM marker WHERE id = 1") == "1")
        #expect(try copy.sql("SELECT relpersistence FROM pg_class WHERE relname = 'scratch'") == "u", "the unlogged table exists")
        #expect(try copy.sql("SELECT count(*) FROM scratch") == "0", "the unlogged table is empty after recovery")
        #expect(try server.sql("SELECT count(*) FROM scratch") == "6000")

        let amcheck = try ProcessRunner.run([copy.bindir + "/pg_amcheck", "-h", "127.0.0.1", "-p", "\(copy.port)", "-U", "postgres",
                                             "--all", "--install-missing", "--heapallindexed"], asPostgres: true)
        #expect(amcheck.status == 0, "pg_amcheck of the copy: \(amcheck.stdout)\(amcheck.stderr)")
    }

    /// Planner settings that make the queries below read through their index.
    private static let forceIndexes = "SET enable_seqscan = off; "

    private static let viewRows = "SELECT md5(string_agg(k || ':' || n || ':' || s, ',' ORDER BY k)) FROM mv"

    /// One query per index access method, each answerable only by its index (seqscan off).
    private static let indexChecks: [(index: String, query: String)] = [
        ("idx_btree", "SELECT count(*) || ':' || coalesce(sum(k), 0) FROM idx WHERE id BETWEEN 100 AND 5000"),
        ("idx_hash", "SELECT count(*) || ':' || coalesce(sum(id), 0) FROM idx WHERE k = 77"),
        ("idx_gist_range", "SELECT count(*) || ':' || coalesce(sum(id), 0) FROM idx WHERE r && int4range(1000, 1200)"),
        ("idx_gist_point", "SELECT count(*) || ':' || coalesce(sum(id), 0) FROM idx WHERE p <@ box '((10,10),(20,20))'"),
        ("idx_gin_doc", "SELECT count(*) || ':' || coalesce(sum(id), 0) FROM idx WHERE doc @@ to_tsquery('simple', 'word5 | changed')"),
        ("idx_gin_tags", "SELECT count(*) || ':' || coalesce(sum(id), 0) FROM idx WHERE tags @> ARRAY[3, 2]"),
        ("idx_spgist", "SELECT count(*) || ':' || coalesce(sum(id), 0) FROM idx WHERE name ^@ 'name-12'"),
        ("idx_brin", "SELECT count(*) || ':' || coalesce(sum(id), 0) FROM idx WHERE n BETWEEN 3000 AND 3500"),
    ]
}

/// Backups copy the cluster in batches of 8 extents' worth and write a manifest chunk per
/// batch (real ones of this size fit in one): the incremental reads its parent across chunk
/// boundaries, pg_control's chunk is written last, and restore reads many chunks.
private let manyChunks = ["VAULT_TEST_CHUNK_PIECES": "8"]

/// Runs each statement on its own (VACUUM and CREATE DATABASE refuse a multi-statement string)
/// in database `db` of `server`.
private func execEach(_ server: PostgresServer, db: String = "postgres", _ statements: [String]) throws {
    let conn = try PostgresConnection(conninfo: "host=127.0.0.1 port=\(server.port) user=postgres dbname=\(db)", label: "\(db) on port \(server.port)")
    for s in statements { try conn.query(s) }
}

/// pg_dump (the server's own version) of every connectable database, in name order.
/// `--restrict-key` fixes the key of the `\restrict` line pg_dump (15.14+, 18) otherwise
/// draws at random; on 18 `--no-statistics` leaves out planner statistics (relpages,
/// reltuples), which autovacuum on either side may change and which are not data.
private func dumpEveryDatabase(_ server: PostgresServer) throws -> [(name: String, dump: String)] {
    let names = try server.connect().query("SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1").compactMap { $0.first ?? nil }
    return try names.map { db in
        var argv = [server.bindir + "/pg_dump", "-h", "127.0.0.1", "-p", "\(server.port)", "-U", "postgres",
                    "--no-unlogged-table-data", "--restrict-key=vaultoracle", "-d", db]
        if server.version == .v18 { argv.append("--no-statistics") }
        return (db, try ProcessRunner.check(argv, asPostgres: true).stdout)
    }
}

/// The start of `diff -u` between two dumps, for a failure message.
private func dumpDiff(_ a: String, _ b: String, in dir: TestDirectory) throws -> String {
    let id = UUID().uuidString
    let left = try dir.write("source-\(id).sql", a, mode: 0o644), right = try dir.write("restored-\(id).sql", b, mode: 0o644)
    let out = try ProcessRunner.run(["/usr/bin/diff", "-u", left, right]).stdout
    return out.count > 6000 ? String(out.prefix(6000)) + "\n… (\(out.count) characters of diff)" : out
}
