import Foundation
import VaultSupport
import VaultPolicy

/// The daemon's log: one JSON object per line on standard output (journald and log shippers
/// read them as they are), one line per decision and per finished job.
public struct SchedulerLog: Sendable {
    public struct Line: Encodable, Sendable {
        public var time: String
        /// `started`, `due`, `waiting`, `finished`, `retry`, `gave-up`, `coalesced`, `dropped`,
        /// `reloaded`, `reload-refused`, `stopping`, `abandoned`, `stopped`, `error`.
        public var event: String
        public var shard: String?
        public var job: String?
        /// The scheduled instant the run belongs to.
        public var slot: String?
        public var attempt: Int?
        /// `scheduled`, `missed` or `retry`.
        public var reason: String?
        public var start: String?
        public var end: String?
        public var seconds: Double?
        public var bytes: Int64?
        /// `succeeded`, `failed` or `skipped`.
        public var outcome: String?
        public var error: String?
        public var detail: String?
        public var message: String?

        init(time: Date, event: String, run: SchedulerCore.Run? = nil, message: String? = nil) {
            self.time = Timestamp.format(time)
            self.event = event
            shard = run?.job.shard
            job = run?.job.kind.rawValue
            slot = run.map { Timestamp.format($0.slot) }
            attempt = run?.attempt
            reason = run?.reason.rawValue
            self.message = message
        }
    }

    private let write: @Sendable (String) -> Void

    /// Lines go to `write` (standard output unless a test collects them).
    public init(write: @escaping @Sendable (String) -> Void = { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) }) {
        self.write = write
    }

    public func emit(_ line: Line) {
        guard let bytes = try? JSONCoding.encode(line, pretty: false) else { return }
        write(String(decoding: bytes, as: UTF8.self))
    }

    public func note(_ event: String, at time: Date, _ message: String) {
        emit(Line(time: time, event: event, message: message))
    }

    /// The line for one of the core's decisions.
    func emit(_ event: SchedulerCore.Event, at time: Date, settings: SchedulerSettings) {
        switch event {
        case .queued(let run):
            emit(Line(time: time, event: "due", run: run, message: run.reason == .missed ? "missed while the scheduler was not running; runs once now" : nil))
        case .started(let run):
            emit(Line(time: time, event: "started", run: run))
        case .waiting(let run, let behind):
            let why = behind.map { "waits for the shard's \($0.kind.rawValue) to finish" }
                ?? "waits for one of the \(settings.maxConcurrentJobs) running jobs to finish (scheduler.max_concurrent_jobs)"
            emit(Line(time: time, event: "waiting", run: run, message: "\(why), at most \(settings.maxWait) s (scheduler.max_wait)"))
        case .coalesced(let job, let slot):
            var line = Line(time: time, event: "coalesced", message: "not queued again: the run of an earlier instant is still waiting or running")
            line.shard = job.shard
            line.job = job.kind.rawValue
            line.slot = Timestamp.format(slot)
            emit(line)
        case .gaveUp(let run, let waited):
            emit(Line(time: time, event: "gave-up", run: run, message: "not started after waiting \(waited) s (scheduler.max_wait is \(settings.maxWait) s)"))
        case .retryScheduled(let run, let at):
            emit(Line(time: time, event: "retry", run: run, message: "attempt \(run.attempt) at \(Timestamp.format(at))"))
        case .dropped(let run, let why):
            emit(Line(time: time, event: "dropped", run: run, message: why))
        }
    }
}
