import Foundation
import Logging
import VaultSupport

/// Shows a `ProgressCounter` while long work runs: a one-line bar with bytes, rate and ETA on
/// a terminal, a log line every 10 seconds otherwise (cron, systemd, pipes).
struct ProgressDisplay {
    let counter: ProgressCounter
    let label: String
    let log: Logger

    /// Runs `body` with the display active; the display stops when `body` returns or throws.
    func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        let terminal = isatty(STDERR_FILENO) == 1
        let counter = self.counter, label = self.label, log = self.log
        let display = Task {
            let started = Date()
            var lastLog = Date()
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: terminal ? 250_000_000 : 1_000_000_000)
                let done = counter.done, total = max(counter.total, 1)
                let seconds = Date().timeIntervalSince(started)
                let rate = seconds > 0 ? Double(done) / seconds : 0
                let eta = rate > 0 ? Double(total - done) / rate : 0
                let text = "\(label) \(ByteCount.text(done)) of \(ByteCount.text(total)) (\(Int(Double(done) * 100 / Double(total)))%), \(ByteCount.text(Int64(rate)))/s, ETA \(Int(eta)) s"
                if terminal {
                    FileHandle.standardError.write(Data("\r\(text)\u{1B}[K".utf8))
                } else if Date().timeIntervalSince(lastLog) >= 10 {
                    log.info("\(text)")
                    lastLog = Date()
                }
            }
            if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        }
        defer { display.cancel() }
        let result = try await body()
        display.cancel()
        await display.value
        return result
    }
}
