import Foundation
import VaultPostgres

/// Orders promotion candidates: the most advanced wins; priority only breaks ties.
///
/// Highest timeline first (a node on an older timeline has not seen the last promotion), then
/// the furthest received WAL (what the node holds, even if not replayed yet: replay catches up
/// before promotion), then the furthest replayed, then the policy's priority. A node with
/// priority 0, another cluster's system identifier, or that cannot be reached is never a
/// candidate.
public enum CandidateRanking {
    /// Why `node` can never be promoted, or nil when it can.
    public static func ineligibility(_ node: NodeState, systemIdentifier: String?) -> String? {
        if !node.reachable { return "unreachable" }
        if node.role != .standby { return "not a standby" }
        if node.priority <= 0 { return "priority 0 (never promoted)" }
        if let expected = systemIdentifier, node.systemIdentifier != expected {
            return "cluster \(node.systemIdentifier ?? "?"), not \(expected)"
        }
        return nil
    }

    /// Eligible standbys, best first.
    public static func rank(_ nodes: [NodeState], systemIdentifier: String?) -> [NodeState] {
        nodes.filter { ineligibility($0, systemIdentifier: systemIdentifier) == nil }.sorted(by: better)
    }

    /// True when `a` should be promoted rather than `b`.
    public static func better(_ a: NodeState, _ b: NodeState) -> Bool {
        if (a.timeline ?? 0) != (b.timeline ?? 0) { return (a.timeline ?? 0) > (b.timeline ?? 0) }
        let ar = a.position ?? LSN(0), br = b.position ?? LSN(0)
        if ar != br { return ar > br }
        let ap = a.replayLSN ?? LSN(0), bp = b.replayLSN ?? LSN(0)
        if ap != bp { return ap > bp }
        if a.priority != b.priority { return a.priority > b.priority }
        return a.name < b.name
    }

    /// Whether `name` appears in a `synchronous_standby_names` value (`a, b`, `FIRST 1 (a, b)`,
    /// `ANY 2 (a, "b c")`, `*`).
    public static func isSynchronous(_ name: String, in setting: String) -> Bool {
        var text = Substring(setting.trimmingCharacters(in: .whitespaces))
        if let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")"), open < close {
            text = text[text.index(after: open)..<close]
        }
        let names = text.split(separator: ",").map { part -> String in
            var n = part.trimmingCharacters(in: .whitespaces)
            if n.hasPrefix("\"") && n.hasSuffix("\"") && n.count >= 2 { n = String(n.dropFirst().dropLast()) }
            return n
        }
        return names.contains("*") || names.contains { $0.lowercased() == name.lowercased() }
    }
}
