import Testing
@testable import VaultOperations
import VaultPostgres

/// The replica decisions are pure: node states in, checks and a choice out. These tests need
/// no server, so a watcher calling the same code later is held to the same rules.
@Suite("replica decisions without a server")
struct ReplicaDecisionTests {
    static let sysid = "7000"

    static func primary(_ name: String = "a", at lsn: UInt64 = 0x500_0000, timeline: UInt32 = 1, port: String = "5432",
                        ready: Int = 0, sync: String = "") -> NodeState {
        NodeState(name: name, priority: 100, host: "127.0.0.1", port: port, reachable: true, systemIdentifier: sysid, role: .primary,
                  timeline: timeline, currentLSN: LSN(lsn), archiver: .init(failedCount: 0, lastFailedWAL: nil, lastArchivedWAL: nil, readyCount: ready),
                  synchronousStandbyNames: sync)
    }

    static func standby(_ name: String, received: UInt64?, replayed: UInt64?, priority: Int = 100, timeline: UInt32 = 1, port: String,
                        upstreamPort: String? = "5432", paused: Bool = false, sysid: String = ReplicaDecisionTests.sysid, sync: String = "") -> NodeState {
        NodeState(name: name, priority: priority, host: "127.0.0.1", port: port, reachable: true, systemIdentifier: sysid, role: .standby,
                  timeline: timeline, receiveLSN: received.map(LSN.init), replayLSN: replayed.map(LSN.init), replayPaused: paused,
                  upstream: upstreamPort.map { .init(status: "streaming", host: "127.0.0.1", port: $0, timeline: timeline) },
                  synchronousStandbyNames: sync)
    }

    static func gone(_ name: String) -> NodeState {
        NodeState(name: name, priority: 100, host: "127.0.0.1", port: "5432", reachable: false, error: "Connection refused", down: true)
    }

    @Test("topology: a healthy shard has no drift; two primaries, a wrong upstream, another timeline, another cluster and unknown standbys are drift")
    func topology() {
        var p = Self.primary()
        p.downstream = [.init(applicationName: "b", state: "streaming", syncState: "async", replayLSN: nil)]
        let b = Self.standby("b", received: 0x500_0000, replayed: 0x500_0000, port: "5433")
        #expect(Topology(shard: "s", nodes: [p, b]).drift.isEmpty)
        #expect(Topology(shard: "s", nodes: [p, b]).primary == "a")

        let two = Topology(shard: "s", nodes: [p, Self.primary("b", port: "5433")])
        #expect(two.primary == nil && two.drift.first?.contains("split brain") == true)
        #expect(Topology(shard: "s", nodes: [Self.gone("a"), b]).drift == ["no reachable node accepts writes"])
        let wrongUpstream = Self.standby("b", received: 1, replayed: 1, port: "5433", upstreamPort: "5999")
        #expect(Topology(shard: "s", nodes: [Self.primary(), wrongUpstream]).drift.contains { $0.contains("does not stream from the primary a") })
        let otherTimeline = Self.standby("b", received: 1, replayed: 1, timeline: 2, port: "5433")
        #expect(Topology(shard: "s", nodes: [p, otherTimeline]).drift.contains { $0.contains("timeline 2") })
        let foreign = Self.standby("b", received: 1, replayed: 1, port: "5433", sysid: "9999")
        #expect(Topology(shard: "s", nodes: [p, foreign]).drift.contains { $0.contains("not a copy of this shard") })
        var extra = p
        extra.downstream.append(.init(applicationName: "walreceiver", state: "streaming", syncState: "async", replayLSN: nil))
        #expect(Topology(shard: "s", nodes: [extra, b]).drift.contains { $0.contains("not nodes of the policy") })
        let paused = Self.standby("b", received: 1, replayed: 1, port: "5433", paused: true)
        #expect(Topology(shard: "s", nodes: [p, paused]).warnings.contains("b: replay is paused"))
    }

    @Test("ranking: timeline, then received WAL, then replayed; priority only breaks ties; priority 0, other clusters and unreachable nodes never")
    func ranking() {
        let ahead = Self.standby("b", received: 0x600, replayed: 0x100, priority: 1, port: "1")
        let behind = Self.standby("c", received: 0x500, replayed: 0x500, priority: 100, port: "2")
        #expect(CandidateRanking.rank([behind, ahead], systemIdentifier: Self.sysid).map(\.name) == ["b", "c"])
        let newerTimeline = Self.standby("d", received: 0x100, replayed: 0x100, priority: 1, timeline: 2, port: "3")
        #expect(CandidateRanking.rank([ahead, newerTimeline], systemIdentifier: Self.sysid).first?.name == "d")
        let tieLow = Self.standby("e", received: 0x600, replayed: 0x100, priority: 1, port: "4")
        let tieHigh = Self.standby("f", received: 0x600, replayed: 0x100, priority: 50, port: "5")
        #expect(CandidateRanking.rank([tieLow, tieHigh], systemIdentifier: Self.sysid).map(\.name) == ["f", "e"])
        let never = Self.standby("g", received: 0x9999, replayed: 0x9999, priority: 0, port: "6")
        let foreign = Self.standby("h", received: 0x9999, replayed: 0x9999, port: "7", sysid: "1")
        #expect(CandidateRanking.rank([never, foreign, Self.gone("i"), behind], systemIdentifier: Self.sysid).map(\.name) == ["c"])
        #expect(CandidateRanking.isSynchronous("b", in: "FIRST 1 (b, \"c d\")"))
        #expect(CandidateRanking.isSynchronous("c d", in: "ANY 1 (b, \"c d\")"))
        #expect(CandidateRanking.isSynchronous("x", in: "*"))
        #expect(!CandidateRanking.isSynchronous("c", in: "b"))
    }

    static func failover(_ nodes: [NodeState], archived: UInt64? = nil, limit: Int64 = 16 << 20, target: String? = nil,
                         allowDataLoss: Bool = false, fenced: Bool? = true) -> FailoverDecision {
        FailoverDecision(.init(nodes: nodes, systemIdentifier: sysid, archivedThrough: archived.map(LSN.init), maxLagBytes: limit,
                               target: target, allowDataLoss: allowDataLoss, fenced: fenced, fenceDetail: "fence"))
    }

    @Test("failover: refused while a node accepts writes or without a fence; the most advanced standby is promoted")
    func failoverGate() {
        let b = Self.standby("b", received: 0x500_0000, replayed: 0x4F0_0000, port: "5433", upstreamPort: nil)
        let c = Self.standby("c", received: 0x480_0000, replayed: 0x480_0000, port: "5434", upstreamPort: nil)
        let ok = Self.failover([Self.gone("a"), c, b])
        #expect(ok.approved && ok.candidate == "b" && ok.ranking == ["b", "c"] && ok.lagBytes == 0)
        let live = Self.failover([Self.primary(), b, c])
        #expect(!live.approved && live.refusal?.name == "no node accepts writes")
        #expect(Self.failover([Self.gone("a"), b], fenced: nil).refusal?.name == "old primary fenced")
        #expect(Self.failover([Self.gone("a"), b], fenced: false).refusal?.name == "old primary fenced")
        #expect(Self.failover([Self.gone("a"), Self.standby("b", received: 1, replayed: 1, priority: 0, port: "5433", upstreamPort: nil)]).refusal?.name == "candidate")
        // Unreachable is not gone: a refused password proves a server answers, and a standby
        // still streaming from the node proves it is up.
        let answering = NodeState(name: "a", priority: 100, host: "127.0.0.1", port: "5432", reachable: false,
                                  error: "password authentication failed", down: false)
        #expect(Self.failover([answering, b, c]).refusal?.name == "old primary proved gone")
        let stillStreaming = Self.standby("b", received: 0x500_0000, replayed: 0x4F0_0000, port: "5433", upstreamPort: "5432")
        #expect(Self.failover([Self.gone("a"), stillStreaming, c]).refusal?.name == "old primary proved gone")
    }

    @Test("failover: lag is measured against the archive and the standbys, and over the limit needs --allow-data-loss")
    func failoverLag() {
        let b = Self.standby("b", received: 0x100_0000, replayed: 0x100_0000, port: "5433", upstreamPort: nil)
        // The archive proves the primary wrote to 0/5000000: b would lose 64 MiB.
        let behindArchive = Self.failover([Self.gone("a"), b], archived: 0x500_0000)
        #expect(!behindArchive.approved && behindArchive.refusal?.name == "lag" && behindArchive.lagBytes == 0x400_0000)
        #expect(Self.failover([Self.gone("a"), b], archived: 0x500_0000, allowDataLoss: true).candidate == "b")
        // Another standby received more: that is the reference, and the operator's choice of b is refused.
        let c = Self.standby("c", received: 0x300_0000, replayed: 0x300_0000, port: "5434", upstreamPort: nil)
        let chosen = Self.failover([Self.gone("a"), b, c], target: "b")
        #expect(!chosen.approved && chosen.refusal?.name == "most advanced")
        #expect(Self.failover([Self.gone("a"), b, c]).candidate == "c")
        // Within the limit: a small gap is accepted.
        #expect(Self.failover([Self.gone("a"), b], archived: 0x100_1000).candidate == "b")
        // A stopped old primary's pg_control (its shutdown checkpoint) proves it wrote past
        // what the standbys received: that is lag too, though nothing archived says so.
        let stopped = FailoverDecision(.init(nodes: [Self.gone("a"), b], systemIdentifier: Self.sysid, archivedThrough: nil, maxLagBytes: 16 << 20,
                                             target: nil, allowDataLoss: false, fenced: true, fenceDetail: "fence", stoppedCheckpoint: LSN(0x300_0000)))
        #expect(!stopped.approved && stopped.refusal?.name == "lag" && stopped.lagBytes == 0x200_0000)
        #expect(stopped.refusal?.detail.contains("a stopped node's pg_control 0/3000000") == true, "\(String(describing: stopped.refusal))")
    }

    @Test("failover: with synchronous_standby_names, only a named standby is promoted without --allow-data-loss")
    func failoverSync() {
        let b = Self.standby("b", received: 0x500, replayed: 0x500, port: "5433", upstreamPort: nil, sync: "FIRST 1 (c)")
        let c = Self.standby("c", received: 0x400, replayed: 0x400, port: "5434", upstreamPort: nil, sync: "FIRST 1 (c)")
        #expect(Self.failover([Self.gone("a"), b, c], limit: 1 << 30).refusal?.name == "synchronous standby")
        #expect(Self.failover([Self.gone("a"), b, c], limit: 1 << 30, allowDataLoss: true).candidate == "b")
    }

    static func switchover(_ nodes: [NodeState], target: String? = nil, limit: Int64 = 16 << 20, backlog: Int = 16, controllable: String? = "pg_ctl") -> SwitchoverDecision {
        SwitchoverDecision(.init(nodes: nodes, systemIdentifier: sysid, maxLagBytes: limit, maxArchiveBacklog: backlog, target: target,
                                 primaryControllable: controllable))
    }

    @Test("switchover: one primary, a target streaming from it on its timeline, replay running, lag and archive backlog within bounds")
    func switchoverGate() {
        let p = Self.primary(at: 0x500_0000)
        let b = Self.standby("b", received: 0x500_0000, replayed: 0x500_0000, port: "5433")
        let c = Self.standby("c", received: 0x300_0000, replayed: 0x300_0000, port: "5434")
        let ok = Self.switchover([p, b, c])
        #expect(ok.approved && ok.primary == "a" && ok.candidate == "b")
        #expect(Self.switchover([p, b, c], target: "c", limit: 1 << 30).candidate == "c")
        #expect(Self.switchover([p, b, c], target: "c").refusal?.name == "lag")
        #expect(Self.switchover([Self.gone("a"), b]).refusal?.name == "one primary")
        #expect(Self.switchover([p, Self.primary("b", port: "5433")]).refusal?.name == "one primary")
        #expect(Self.switchover([p, b], controllable: nil).refusal?.name == "primary can be stopped and started")
        let elsewhere = Self.standby("b", received: 0x500_0000, replayed: 0x500_0000, port: "5433", upstreamPort: "6000")
        #expect(Self.switchover([p, elsewhere], target: "b").refusal?.name == "streams from the primary")
        let paused = Self.standby("b", received: 0x500_0000, replayed: 0x500_0000, port: "5433", paused: true)
        #expect(Self.switchover([p, paused], target: "b").refusal?.name == "replay running")
        #expect(Self.switchover([Self.primary(ready: 40), b]).refusal?.name == "archive backlog")
        let zero = Self.standby("b", received: 0x500_0000, replayed: 0x500_0000, priority: 0, port: "5433")
        #expect(Self.switchover([p, zero], target: "b").refusal?.name == "target")
    }

    @Test("policy commands split into argument vectors without a shell; configuration values are quoted")
    func quoting() {
        #expect(ArgumentVector.split("ssh db-b sudo systemctl stop postgresql") == ["ssh", "db-b", "sudo", "systemctl", "stop", "postgresql"])
        #expect(ArgumentVector.split("/bin/fence 'node a' \"x y\" $HOME;rm") == ["/bin/fence", "node a", "x y", "$HOME;rm"])
        #expect(ConfigValue.quoted("host=a password='x\\y'") == "'host=a password=''x\\\\y'''")
    }
}
