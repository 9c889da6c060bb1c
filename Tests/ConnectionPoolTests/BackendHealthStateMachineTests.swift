import Testing
@testable import ConnectionPool

private typealias Health = BackendHealthStateMachine<String>

/// The ids of the probes `actions` start, by host.
private func probes(_ actions: [Health.Action]) -> [String: Health.ProbeID] {
    var result: [String: Health.ProbeID] = [:]
    for case .probe(let host, let id) in actions { result[host] = id }
    return result
}

@Suite struct BackendHealthProbeTests {
    @Test func firstProbeComesOneIntervalAfterStart() {
        var health = Health(hosts: ["a", "b"], interval: 10 * second, now: 5 * second)
        #expect(health.tick(now: 5 * second).isEmpty)
        #expect(health.tick(now: 15 * second - 1).isEmpty)
        #expect(Set(probes(health.tick(now: 15 * second)).keys) == ["a", "b"])
        #expect(health.status(of: "a") == .unknown)
    }

    @Test func oneProbeAtATimePerHostAndTheNextAnIntervalAfterItEnded() throws {
        var health = Health(hosts: ["a"], interval: 10 * second, now: 0)
        let id = try #require(probes(health.tick(now: 10 * second))["a"])
        #expect(health.tick(now: 100 * second).isEmpty, "still running: no second probe, however late")
        #expect(health.probeFailed(id, now: 102 * second) == [.statusChanged("a", up: false)])
        #expect(health.tick(now: 112 * second - 1).isEmpty)
        #expect(probes(health.tick(now: 112 * second))["a"] != nil)
    }

    /// A host that is gone for good: probes fail, and keep coming at the same pace, no faster.
    @Test func aDeadHostIsProbedAtTheSamePace() {
        var health = Health(hosts: ["a"], interval: 1 * second, now: 0)
        var now: UInt64 = 0
        var started = 0
        var changes: [Health.Action] = []
        for _ in 0..<1_000 {  // a tick every 10 ms for 10 s; each probe fails 50 ms after it started
            now += 10 * millisecond
            for (_, id) in probes(health.tick(now: now)) {
                started += 1
                changes += health.probeFailed(id, now: now + 50 * millisecond)
            }
        }
        #expect(started == 9, "one per interval + probe time, not one per tick")
        #expect(changes == [.statusChanged("a", up: false)], "reported once")
    }

    @Test func statusFollowsTheLatestEvidence() throws {
        var health = Health(hosts: ["a"], interval: 1 * second, now: 0)
        let first = try #require(probes(health.tick(now: 1 * second))["a"])
        #expect(health.probeSucceeded(first, now: 1 * second) == [.statusChanged("a", up: true)])
        #expect(health.connectSucceeded(to: "a") == [], "no change")
        #expect(health.connectFailed(to: "a") == [.statusChanged("a", up: false)])
        #expect(health.connectFailed(to: "a") == [])
        let again = try #require(probes(health.tick(now: 2 * second))["a"])
        #expect(health.probeSucceeded(again, now: 2 * second) == [.statusChanged("a", up: true)])
        #expect(health.status(of: "a") == .up)
    }

    @Test func aSkippedProbeKeepsTheStatusAndComesBackAnIntervalLater() throws {
        var health = Health(hosts: ["a"], interval: 1 * second, now: 0)
        _ = health.connectFailed(to: "a")
        let id = try #require(probes(health.tick(now: 1 * second))["a"])
        health.probeSkipped(id, now: 1 * second)
        #expect(health.status(of: "a") == .down)
        #expect(health.probeSucceeded(id, now: 1 * second) == [], "the skipped probe has no result")
        #expect(health.tick(now: 2 * second - 1).isEmpty)
        #expect(probes(health.tick(now: 2 * second))["a"] != nil)
    }

    @Test func zeroIntervalMeansNoProbesButConnectionsStillCount() {
        var health = Health(hosts: ["a"], interval: 0, now: 0)
        #expect(health.tick(now: 1_000_000 * second).isEmpty)
        #expect(health.connectFailed(to: "a") == [.statusChanged("a", up: false)])
        #expect(health.status(of: "a") == .down)
    }

    @Test func resultsForUnknownProbesAndHostsAreIgnored() {
        var health = Health(hosts: ["a"], interval: 1 * second, now: 0)
        #expect(health.probeSucceeded(42, now: 0) == [])
        #expect(health.probeFailed(42, now: 0) == [])
        #expect(health.connectFailed(to: "elsewhere") == [])
        #expect(health.status(of: "elsewhere") == .unknown)
    }
}

@Suite struct BackendHealthOrderTests {
    @Test func hostsKnownDownGoLastInTheirOrder() {
        var health = Health(hosts: ["a", "b", "c", "d"], interval: 0, now: 0)
        _ = health.connectFailed(to: "a")
        _ = health.connectFailed(to: "c")
        _ = health.connectSucceeded(to: "d")
        #expect(health.connectOrder(["a", "b", "c", "d"]) == ["b", "d", "a", "c"])
        _ = health.connectSucceeded(to: "a")
        #expect(health.connectOrder(["a", "b", "c", "d"]) == ["a", "b", "d", "c"])
    }

    @Test func allDownKeepsTheConfiguredOrder() {
        var health = Health(hosts: ["a", "b"], interval: 0, now: 0)
        _ = health.connectFailed(to: "b")
        _ = health.connectFailed(to: "a")
        #expect(health.connectOrder(["a", "b"]) == ["a", "b"])
    }

    @Test func hostsNotTrackedCountAsUnknown() {
        var health = Health(hosts: ["a"], interval: 0, now: 0)
        _ = health.connectFailed(to: "a")
        #expect(health.connectOrder(["a", "new"]) == ["new", "a"])
    }
}

@Suite struct BackendHealthReloadTests {
    @Test func removedHostsAreForgottenAndTheirRunningProbeIgnored() throws {
        var health = Health(hosts: ["a", "b"], interval: 1 * second, now: 0)
        let started = probes(health.tick(now: 1 * second))
        #expect(health.update(hosts: ["b", "c"], interval: 1 * second, now: 1 * second) == [.forget("a")])
        #expect(health.probeFailed(try #require(started["a"]), now: 1 * second) == [])
        #expect(health.hosts == ["b", "c"])
        #expect(health.probeSucceeded(try #require(started["b"]), now: 1 * second) == [.statusChanged("b", up: true)])
    }

    @Test func aHostRemovedAndAddedBackWhileProbedIgnoresTheOldProbe() throws {
        var health = Health(hosts: ["a"], interval: 1 * second, now: 0)
        let old = try #require(probes(health.tick(now: 1 * second))["a"])
        _ = health.update(hosts: [], interval: 1 * second, now: 1 * second)
        _ = health.update(hosts: ["a"], interval: 1 * second, now: 1 * second)
        #expect(health.probeSucceeded(old, now: 1 * second) == [])
        #expect(health.status(of: "a") == .unknown)
        #expect(probes(health.tick(now: 2 * second))["a"] != nil, "the new host gets its own probe")
    }

    @Test func aNewHostIsFirstProbedAnIntervalAfterItAppeared() {
        var health = Health(hosts: ["a"], interval: 10 * second, now: 0)
        _ = health.update(hosts: ["a", "b"], interval: 10 * second, now: 5 * second)
        #expect(Set(probes(health.tick(now: 10 * second)).keys) == ["a"])
        #expect(Set(probes(health.tick(now: 15 * second)).keys) == ["b"])
    }

    @Test func aShorterIntervalAppliesToTheNextProbe() throws {
        var health = Health(hosts: ["a"], interval: 3600 * second, now: 0)
        _ = health.update(hosts: ["a"], interval: 1 * second, now: 10 * second)
        let id = try #require(probes(health.tick(now: 10 * second))["a"], "an hour was too long; a second is over")
        _ = health.update(hosts: ["a"], interval: 60 * second, now: 10 * second)
        _ = health.probeSucceeded(id, now: 11 * second)
        #expect(health.tick(now: 71 * second - 1).isEmpty)
        #expect(probes(health.tick(now: 71 * second))["a"] != nil)
    }

    @Test func turningProbesOnCountsTheFirstIntervalFromThen() {
        var health = Health(hosts: ["a"], interval: 0, now: 0)
        _ = health.update(hosts: ["a"], interval: 5 * second, now: 100 * second)
        #expect(health.tick(now: 105 * second - 1).isEmpty)
        #expect(probes(health.tick(now: 105 * second))["a"] != nil)
    }

    @Test func turningProbesOffStopsThem() {
        var health = Health(hosts: ["a"], interval: 1 * second, now: 0)
        _ = health.update(hosts: ["a"], interval: 0, now: 0)
        #expect(health.tick(now: 100 * second).isEmpty)
    }

    @Test func stoppedProbesNothingAndIgnoresResults() throws {
        var health = Health(hosts: ["a"], interval: 1 * second, now: 0)
        let id = try #require(probes(health.tick(now: 1 * second))["a"])
        health.stop()
        #expect(health.probeSucceeded(id, now: 2 * second) == [])
        #expect(health.connectFailed(to: "a") == [])
        #expect(health.tick(now: 100 * second).isEmpty)
    }
}
