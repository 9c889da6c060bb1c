@testable import ConnectionPool

typealias ConnectionID = PoolStateMachine.ConnectionID
typealias WaiterID = PoolStateMachine.WaiterID

let millisecond: UInt64 = 1_000_000
let second: UInt64 = 1_000_000_000

/// Plays the pool's owner: performs every action the pool returns (on paper), keeps its own model of every
/// connection and waiter, and records each way the pool's answers contradict that model or the pool's promises.
struct PoolOwner {
    enum ConnectionModel: Equatable {
        case connecting
        case idle
        case leased(WaiterID)
        case closing
    }

    enum Outcome: Equatable {
        case leased(ConnectionID)
        case failed(PoolError)
    }

    var pool: PoolStateMachine
    var now: UInt64 = 0
    private(set) var connections: [ConnectionID: ConnectionModel] = [:]
    private(set) var loops: [ConnectionID: Int] = [:]
    /// Waiters still waiting, with their loop.
    private(set) var waiting: [WaiterID: Int] = [:]
    private(set) var outcomes: [WaiterID: [Outcome]] = [:]
    private(set) var seenConnectionIDs: Set<ConnectionID> = []
    private(set) var violations: [String] = []
    /// Places the owner holds for health probes.
    private(set) var probes = 0
    private var nextWaiter = 1

    init(_ configuration: PoolConfiguration, seed: UInt64 = 0x5EED) {
        self.pool = PoolStateMachine(configuration: configuration, seed: seed)
    }

    func ids(_ state: ConnectionModel) -> [ConnectionID] {
        self.connections.filter { $0.value == state }.map(\.key).sorted()
    }

    var leased: [(connection: ConnectionID, waiter: WaiterID)] {
        self.connections.compactMap { id, state in
            if case .leased(let waiter) = state { return (id, waiter) }
            return nil
        }.sorted { $0.connection < $1.connection }
    }

    // MARK: Events

    @discardableResult
    mutating func checkout(loop: Int = 0) -> (WaiterID, PoolStateMachine.CheckoutResult) {
        let waiter = self.nextWaiter
        self.nextWaiter += 1
        self.waiting[waiter] = loop
        let result = self.pool.checkout(waiter: waiter, loop: loop, now: self.now)
        switch result {
        case .leased(let id), .check(let id):
            self.expect(self.connections[id] == .idle, "checkout leased \(id) which is \(self.describe(id))")
            self.lease(id, to: waiter)
        case .queued(let open, let close):
            if let close {
                self.expect(self.connections[close] == .idle, "checkout closes \(close): \(self.describe(close))")
                self.connections[close] = .closing
            }
            if let open { self.opening(open) }
        case .failed(let error):
            self.finish(waiter, .failed(error))
        }
        self.checkInvariants("checkout \(waiter)")
        return (waiter, result)
    }

    @discardableResult
    mutating func release(_ id: ConnectionID, reusable: Bool = true) -> PoolStateMachine.ReleaseResult {
        guard case .leased = self.connections[id] else {
            self.violations.append("test bug: release of \(id) which is \(self.describe(id))")
            return .parked
        }
        let result = self.pool.release(id, reusable: reusable, now: self.now)
        switch result {
        case .parked:
            self.connections[id] = .idle
        case .lease(let leased, let waiter):
            self.expect(leased == id, "release of \(id) leased \(leased)")
            self.lease(id, to: waiter)
        case .close(let closed, let open):
            self.expect(closed == id, "release of \(id) closed \(closed)")
            self.connections[id] = .closing
            if let open { self.opening(open) }
        }
        self.checkInvariants("release \(id)")
        return result
    }

    @discardableResult
    mutating func cancel(_ waiter: WaiterID) -> Bool {
        let wasWaiting = self.pool.cancelWaiter(waiter)
        self.expect(wasWaiting == (self.waiting[waiter] != nil), "cancelWaiter(\(waiter)) returned \(wasWaiting)")
        self.waiting[waiter] = nil
        self.checkInvariants("cancel \(waiter)")
        return wasWaiting
    }

    @discardableResult
    mutating func opened(_ id: ConnectionID) -> PoolAction? {
        self.expect(self.connections[id] == .connecting, "test bug: opened \(id) which is \(self.describe(id))")
        self.connections[id] = .idle
        let action = self.pool.connectionOpened(id, now: self.now)
        switch action {
        case nil: break
        case .lease(let leased, let waiter)?:
            self.expect(leased == id, "connectionOpened(\(id)) leased \(leased)")
            self.lease(id, to: waiter)
        case .closeConnection(let closed)?:
            self.expect(closed == id, "connectionOpened(\(id)) closed \(closed)")
            self.connections[id] = .closing
        case let other?:
            self.violations.append("connectionOpened(\(id)) answered \(other)")
        }
        self.checkInvariants("opened \(id)")
        return action
    }

    @discardableResult
    mutating func failed(_ id: ConnectionID, error: String = "connection refused") -> [PoolAction] {
        self.expect(self.connections[id] == .connecting, "test bug: failed \(id) which is \(self.describe(id))")
        self.connections[id] = nil
        let actions = self.pool.connectionFailed(id, error: error, now: self.now)
        self.perform(actions, "failed \(id)")
        return actions
    }

    @discardableResult
    mutating func closed(_ id: ConnectionID) -> PoolAction? {
        self.expect(self.connections[id] != nil, "test bug: closed \(id) which is unknown")
        self.connections[id] = nil
        let action = self.pool.connectionClosed(id, now: self.now)
        self.perform(action.map { [$0] } ?? [], "closed \(id)")
        return action
    }

    @discardableResult
    mutating func reserveProbe() -> Bool {
        let reserved = self.pool.reserveProbe()
        if reserved { self.probes += 1 }
        self.checkInvariants("reserveProbe")
        return reserved
    }

    @discardableResult
    mutating func probeFinished() -> PoolAction? {
        self.expect(self.probes > 0, "test bug: probeFinished without a probe")
        self.probes -= 1
        let action = self.pool.probeFinished(now: self.now)
        self.perform(action.map { [$0] } ?? [], "probeFinished")
        return action
    }

    @discardableResult
    mutating func tick(at now: UInt64) -> [PoolAction] {
        self.now = now
        let actions = self.pool.tick(now: now)
        self.perform(actions, "tick \(now)")
        return actions
    }

    @discardableResult
    mutating func retireAll() -> [PoolAction] {
        let actions = self.pool.retireAllConnections()
        self.perform(actions, "retire all")
        return actions
    }

    @discardableResult
    mutating func close() -> [PoolAction] {
        let actions = self.pool.close()
        self.perform(actions, "close")
        return actions
    }

    /// Opens every connection being opened and closes every connection being closed, repeatedly, without
    /// moving time beyond pending retries, until nothing is in flight. Leased connections stay leased.
    mutating func settle(maxRounds: Int = 100) {
        for _ in 0..<maxRounds {
            let connecting = self.ids(.connecting)
            let closing = self.ids(.closing)
            if connecting.isEmpty && closing.isEmpty {
                if self.pool.nextRetryTime > self.now, !self.waiting.isEmpty {
                    self.tick(at: self.pool.nextRetryTime)
                    continue
                }
                return
            }
            for id in connecting where self.connections[id] == .connecting { self.opened(id) }
            for id in closing where self.connections[id] == .closing { self.closed(id) }
        }
        self.violations.append("settle did not finish in \(maxRounds) rounds")
    }

    // MARK: Bookkeeping

    private mutating func perform(_ actions: [PoolAction], _ event: String) {
        for action in actions {
            switch action {
            case .lease(let id, let waiter):
                self.expect(self.connections[id] == .idle, "\(event): lease of \(id) which is \(self.describe(id))")
                self.lease(id, to: waiter)
            case .openConnection(let id):
                self.opening(id)
            case .closeConnection(let id):
                self.expect(self.connections[id] == .idle, "\(event): close of \(id) which is \(self.describe(id))")
                self.connections[id] = .closing
            case .failWaiter(let waiter, let error):
                self.finish(waiter, .failed(error))
            }
        }
        self.checkInvariants(event)
    }

    private mutating func opening(_ id: ConnectionID) {
        self.expect(!self.seenConnectionIDs.contains(id), "connection id \(id) reused")
        self.seenConnectionIDs.insert(id)
        self.connections[id] = .connecting
        self.loops[id] = self.pool.loop(of: id)
        self.expect(self.loops[id] != nil, "no loop for new connection \(id)")
    }

    private mutating func lease(_ id: ConnectionID, to waiter: WaiterID) {
        guard let loop = self.waiting[waiter] else {
            self.violations.append("lease of \(id) to \(waiter), who is not waiting")
            return
        }
        self.expect(
            self.loops[id] == loop, "waiter \(waiter) on loop \(loop) got \(id) of loop \(self.loops[id] ?? -1)"
        )
        self.connections[id] = .leased(waiter)
        self.finish(waiter, .leased(id))
    }

    private mutating func finish(_ waiter: WaiterID, _ outcome: Outcome) {
        if case .failed = outcome, self.waiting[waiter] == nil {
            self.violations.append("waiter \(waiter) failed with \(outcome) but is not waiting")
        }
        self.waiting[waiter] = nil
        self.outcomes[waiter, default: []].append(outcome)
        if self.outcomes[waiter]!.count > 1 {
            self.violations.append("waiter \(waiter) got \(self.outcomes[waiter]!)")
        }
    }

    private mutating func checkInvariants(_ event: String) {
        let statistics = self.pool.statistics
        let max = self.pool.configuration.maxConnections
        if statistics.total > max {
            self.violations.append("\(event): \(statistics.total) connections, max \(max)")
        }
        let expected = PoolStatistics(
            idle: self.ids(.idle).count, leased: self.leased.count, connecting: self.ids(.connecting).count,
            closing: self.ids(.closing).count, waiting: self.waiting.count,
            consecutiveConnectFailures: statistics.consecutiveConnectFailures, probing: self.probes
        )
        if statistics != expected {
            self.violations.append("\(event): statistics \(statistics), owner sees \(expected)")
        }
    }

    private mutating func expect(_ condition: Bool, _ message: String) {
        if !condition { self.violations.append(message) }
    }

    private func describe(_ id: ConnectionID) -> String {
        self.connections[id].map { "\($0)" } ?? "unknown"
    }
}
