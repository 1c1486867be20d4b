import Foundation
import Synchronization

/// Wall-clock time for the scheduler: cron instants are wall-clock instants. Tests pass a
/// clock they move by hand.
public protocol SchedulerClock: Sendable {
    var now: Date { get }
    /// Returns at `deadline` or earlier; throws when the task is cancelled.
    func sleep(until deadline: Date) async throws
}

/// The system clock. Sleeps at most a minute at a time, so a clock stepped by NTP or an
/// operator is noticed within a minute rather than after the whole planned sleep.
public struct SystemSchedulerClock: SchedulerClock {
    public init() {}

    public var now: Date { Date() }

    public func sleep(until deadline: Date) async throws {
        let seconds = min(max(deadline.timeIntervalSinceNow, 0), 60)
        try await Task.sleep(for: .milliseconds(Int(seconds * 1000) + 1))
    }
}

/// Wakes the scheduler's loop early: a job finished, the policy was reloaded, or a stop began.
/// A signal given while nobody waits is kept for the next wait.
final class WakeSignal: Sendable {
    private let state = Mutex<(pending: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    func signal() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns when signalled, or at once when a signal is pending or the task is cancelled.
    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.pending || Task.isCancelled {
                        s.pending = false
                        return true
                    }
                    s.waiter = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume()
        }
    }

    /// Waits for a signal or until `deadline` on `clock`, whichever comes first.
    func wait(until deadline: Date, clock: any SchedulerClock) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.wait() }
            group.addTask { try? await clock.sleep(until: deadline) }
            await group.next()
            group.cancelAll()
        }
    }
}
