import VaultPostgres

/// Whether an incremental backup may build on a parent taken on another timeline.
///
/// An incremental takes from its parent every page whose LSN (or WAL summary) says it has not
/// changed since the parent began. That holds only along one history: after a point-in-time
/// restore or a failover, the new timeline branches from an older point, so its pages can
/// carry LSNs below the parent's start while holding other rows than the parent copied. The
/// parent is therefore usable only when it was taken on the current timeline, or on an
/// ancestor that the current timeline left at or after the parent's *stop* LSN: every change
/// the parent's copy can hold (all made before its stop) then lies on the shared history.
/// (The start LSN would not do: pages the parent copied between its start and stop may hold
/// changes of the abandoned branch made after the switch.)
public enum IncrementalParentRule {
    /// Nil when `parent` may be the parent of a backup on `timeline`, whose history (from the
    /// archived `.history` file; nil when it is not archived) is `history`; otherwise why not.
    public static func problem(parentID: String, parentTimeline: UInt32, parentStop: LSN, timeline: UInt32, history: TimelineHistory?) -> String? {
        if parentTimeline == timeline { return nil }
        guard let history else {
            return "the server is on timeline \(timeline), parent backup \(parentID) on timeline \(parentTimeline), and timeline \(timeline)'s history file is not in the archive, so nothing proves the parent's history is this one's"
        }
        if history.descends(from: parentTimeline, after: parentStop) { return nil }
        guard let switched = history.path.first(where: { $0.timeline == parentTimeline }), let end = switched.end else {
            return "parent backup \(parentID) is on timeline \(parentTimeline), which is not an ancestor of the server's timeline \(timeline)"
        }
        return "the server's timeline \(timeline) left timeline \(parentTimeline) at \(end), before parent backup \(parentID) stopped at \(parentStop): pages changed on timeline \(timeline) can carry older LSNs than the parent's and would be restored from the abandoned history"
    }
}
