import Foundation
import Synchronization
import VaultSupport
import VaultSystem
import VaultStorage
import VaultCrypto
import VaultPostgres
import VaultPolicy
import VaultFormat
import VaultOperations

/// Commits numbered transactions on its own thread while a backup runs: each inserts
/// `log(id, md5(id))` and bumps `counters[id % 10]`, so any consistent copy must hold exactly
/// ids 1…K and counters summing to K.
final class BackgroundWriter: Sendable {
    private let stopFlag = Atomic<Bool>(false)
    private let committed = Atomic<Int>(0)
    private let failure = Mutex<String?>(nil)
    private let finished = DispatchSemaphore(value: 0)

    static let schema = """
        CREATE TABLE log(id bigint PRIMARY KEY, payload text NOT NULL);
        CREATE TABLE counters(id int PRIMARY KEY, n bigint NOT NULL);
        INSERT INTO counters SELECT g, 0 FROM generate_series(0, 9) g;
        """

    init(conninfo: String) {
        let thread = Thread { [self] in
            defer { finished.signal() }
            do {
                let conn = try PostgresConnection(conninfo: conninfo, label: "writer")
                var i = 0
                while !stopFlag.load(ordering: .relaxed) {
                    i += 1
                    try conn.query("BEGIN")
                    try conn.query("INSERT INTO log VALUES ($1::bigint, md5($2))", [String(i), String(i)])
                    try conn.query("UPDATE counters SET n = n + 1 WHERE id = $1::int % 10", [String(i)])
                    try conn.query("COMMIT")
                    committed.store(i, ordering: .relaxed)
                    // At most a few hundred commits a second: how much changes during a
                    // backup then depends on time, not on how idle the test machine is.
                    usleep(2000)
                }
            } catch {
                failure.withLock { $0 = "\(error)" }
            }
        }
        thread.start()
    }

    var count: Int { committed.load(ordering: .relaxed) }

    /// Waits until at least `n` transactions have committed; throws if the writer failed.
    func waitFor(_ n: Int, timeout: TimeInterval = 120) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while count < n {
            if let f = failure.withLock({ $0 }) { throw HarnessError("background writer failed: \(f)") }
            if Date() > deadline { throw HarnessError("background writer reached only \(count) of \(n) commits") }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
    }

    /// Stops the writer and returns how many transactions it committed.
    func stop() throws -> Int {
        stopFlag.store(true, ordering: .relaxed)
        finished.wait()
        if let f = failure.withLock({ $0 }) { throw HarnessError("background writer failed: \(f)") }
        return count
    }
}
