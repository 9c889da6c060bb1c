/// What one service knows about each of its backend hosts — up, down, or not known yet — from periodic health
/// probes and from the pool's own connection attempts, as a value type: events in, actions out.
///
/// - A host is probed one probe at a time, the next one `interval` after the previous one ended, and the first one
///   `interval` after the host appeared. A dead host is probed at the same pace as a live one: there is no retry
///   loop to spin. `interval` 0 turns probing off; connection attempts still count.
/// - The latest evidence wins: a successful probe or connection marks the host up, a failed one marks it down.
/// - `connectOrder` puts hosts known to be down behind the others, so a dead host costs new connections nothing
///   while another host qualifies, and is still tried when none does.
///
/// Time is nanoseconds of a monotonic clock, passed in so tests move it by hand.
public struct BackendHealthStateMachine<Host: Hashable & Sendable>: Sendable {
    public typealias ProbeID = Int

    public enum Status: Sendable, Equatable {
        case unknown
        case up
        case down
    }

    public enum Action: Sendable, Equatable {
        /// Probe the host (connect, log in, run the health query) and report the outcome under this id.
        case probe(Host, ProbeID)
        /// The host's status changed, its first known status included.
        case statusChanged(Host, up: Bool)
        /// The host left the configuration; whatever was reported about it should go.
        case forget(Host)
    }

    struct HostState: Sendable {
        var status = Status.unknown
        var probe: ProbeID?
        /// When the last probe ended (or was skipped), or when the host appeared: the next probe is due an
        /// interval later.
        var since: UInt64
    }

    /// The configured hosts, in the order of the backend URL.
    public private(set) var hosts: [Host]
    /// Nanoseconds between the end of a probe and the start of the next; 0 = no probes.
    public private(set) var interval: UInt64
    private var states: [Host: HostState] = [:]
    private var nextProbeID: ProbeID = 1
    private var isStopped = false

    public init(hosts: [Host], interval: UInt64, now: UInt64) {
        self.hosts = []
        self.interval = interval
        _ = self.update(hosts: hosts, interval: interval, now: now)
    }

    public func status(of host: Host) -> Status {
        self.states[host]?.status ?? .unknown
    }

    /// `candidates` with the hosts known to be down moved to the end, each group in its original order.
    public func connectOrder(_ candidates: [Host]) -> [Host] {
        candidates.filter { self.status(of: $0) != .down } + candidates.filter { self.status(of: $0) == .down }
    }

    // MARK: Probes

    /// Starts the probes that are due.
    public mutating func tick(now: UInt64) -> [Action] {
        guard !self.isStopped, self.interval > 0 else { return [] }
        var actions: [Action] = []
        for host in self.hosts {
            guard var state = self.states[host], state.probe == nil, now >= state.since,
                  now - state.since >= self.interval else { continue }
            let id = self.nextProbeID
            self.nextProbeID += 1
            state.probe = id
            self.states[host] = state
            actions.append(.probe(host, id))
        }
        return actions
    }

    public mutating func probeSucceeded(_ probe: ProbeID, now: UInt64) -> [Action] {
        self.finish(probe, now: now, up: true)
    }

    public mutating func probeFailed(_ probe: ProbeID, now: UInt64) -> [Action] {
        self.finish(probe, now: now, up: false)
    }

    /// The probe could not run (the pool had no room for it): the status stays, the next try is an interval later.
    public mutating func probeSkipped(_ probe: ProbeID, now: UInt64) {
        _ = self.finish(probe, now: now, up: nil)
    }

    private mutating func finish(_ probe: ProbeID, now: UInt64, up: Bool?) -> [Action] {
        guard let host = self.hosts.first(where: { self.states[$0]?.probe == probe }) else {
            return []  // stopped, or the host was removed (and maybe added again) while the probe ran
        }
        self.states[host]!.probe = nil
        self.states[host]!.since = now
        guard let up else { return [] }
        return self.record(host, up: up)
    }

    // MARK: Connection attempts of the pool

    public mutating func connectSucceeded(to host: Host) -> [Action] {
        self.record(host, up: true)
    }

    public mutating func connectFailed(to host: Host) -> [Action] {
        self.record(host, up: false)
    }

    private mutating func record(_ host: Host, up: Bool) -> [Action] {
        guard !self.isStopped, let state = self.states[host] else { return [] }
        let status: Status = up ? .up : .down
        guard state.status != status else { return [] }
        self.states[host]!.status = status
        return [.statusChanged(host, up: up)]
    }

    // MARK: Configuration

    /// A reload: hosts that are gone are forgotten (a running probe's result is then ignored), new ones start
    /// unknown with their first probe an interval from now, and a new interval applies to the next probe of
    /// every host.
    public mutating func update(hosts: [Host], interval: UInt64, now: UInt64) -> [Action] {
        var actions: [Action] = []
        for host in self.hosts where !hosts.contains(host) {
            self.states[host] = nil
            actions.append(.forget(host))
        }
        for host in hosts where self.states[host] == nil {
            self.states[host] = HostState(since: now)
        }
        if self.interval == 0 && interval > 0 {
            // Probing was off: count the first interval from now, not from when the host appeared.
            for host in hosts where self.states[host]!.probe == nil { self.states[host]!.since = now }
        }
        self.hosts = hosts
        self.interval = interval
        return actions
    }

    /// The service is gone: no more probes, and results of running ones are ignored.
    public mutating func stop() {
        self.isStopped = true
        for host in self.hosts { self.states[host]!.probe = nil }
    }

    /// A stopped service came back (a reload re-added it while its clients were connected).
    public mutating func resume() {
        self.isStopped = false
    }
}
