import Testing
@testable import ConnectionPool

/// Opens one connection for one client and gives it back at `owner.now`: the pool has one idle connection.
private func parkOne(_ owner: inout PoolOwner) -> ConnectionID? {
    guard case .queued(let open?, nil) = owner.checkout().1 else { return nil }
    owner.opened(open)
    owner.release(open)
    return open
}

@Suite struct PoolPreLendCheckTests {
    @Test func connectionIdleForTheCheckDelayIsCheckedBeforeItIsLent() throws {
        var owner = PoolOwner(PoolConfiguration(maxConnections: 2, checkDelay: 30 * second))
        let id = try #require(parkOne(&owner))
        owner.now = 30 * second - 1
        #expect(owner.checkout().1 == .leased(id), "idle for less than the delay")
        owner.release(id)
        owner.now += 30 * second
        #expect(owner.checkout().1 == .check(id))
        #expect(owner.pool.statistics.leased == 1, "a connection being checked is lent")
        #expect(owner.violations == [])
    }

    @Test func zeroDelayChecksEveryLend() throws {
        var owner = PoolOwner(PoolConfiguration(maxConnections: 1, checkDelay: 0))
        let id = try #require(parkOne(&owner))
        #expect(owner.checkout().1 == .check(id))
        owner.release(id)
        #expect(owner.checkout().1 == .check(id))
        #expect(owner.violations == [])
    }

    @Test func noDelayConfiguredNeverChecks() throws {
        var owner = PoolOwner(PoolConfiguration(maxConnections: 1, idleTimeout: 0, maxLifetime: 0))
        let id = try #require(parkOne(&owner))
        owner.now = 1_000_000 * second
        #expect(owner.checkout().1 == .leased(id))
        #expect(owner.violations == [])
    }

    @Test func newAndJustReleasedConnectionsAreNotChecked() {
        var owner = PoolOwner(PoolConfiguration(maxConnections: 1, checkoutTimeout: 0, checkDelay: 0))
        let (w1, _) = owner.checkout()
        #expect(owner.opened(1) == .lease(1, to: w1), "a new connection goes straight to its client")
        let (w2, _) = owner.checkout()
        owner.now = 100 * second
        #expect(owner.release(1) == .lease(1, to: w2), "handed from one client to the next without idling")
        #expect(owner.violations == [])
    }

    /// The owner's side of a failed check: release the connection as not reusable and check out again for the
    /// same client, who then gets the next idle connection (checked too) or a new one.
    @Test func failedCheckIsReplacedForTheSameClient() throws {
        var owner = PoolOwner(PoolConfiguration(maxConnections: 1, checkDelay: 0))
        let id = try #require(parkOne(&owner))
        #expect(owner.checkout().1 == .check(id))
        #expect(owner.release(id, reusable: false) == .close(id, open: nil))
        let (waiter, retry) = owner.checkout()
        #expect(retry == .queued(open: nil, close: nil), "the broken one still counts until it is closed")
        #expect(owner.closed(id) == .openConnection(id + 1))
        #expect(owner.opened(id + 1) == .lease(id + 1, to: waiter))
        #expect(owner.violations == [])
    }
}

@Suite struct PoolFastFailureTests {
    private static let configuration = PoolConfiguration(
        maxConnections: 2, checkoutTimeout: 30 * second, retryAttempts: 2, initialBackoff: 100 * millisecond,
        maxBackoff: 5 * second
    )

    /// Fails one round of `retryAttempts` for the waiter `checkout` adds; returns the failure the waiter got.
    private func failRound(_ owner: inout PoolOwner) -> PoolError? {
        let (waiter, result) = owner.checkout()
        guard case .queued(let first?, _) = result else { return nil }
        owner.failed(first, error: "refused")
        guard case .openConnection(let second)? = owner.tick(at: owner.pool.nextRetryTime).first else { return nil }
        owner.failed(second, error: "refused")
        guard case .failed(let error)? = owner.outcomes[waiter]?.first else { return nil }
        return error
    }

    @Test func afterAFailedRoundNewClientsFailAtOnceUntilTheBackoffEnds() throws {
        var owner = PoolOwner(Self.configuration)
        let failure = try #require(failRound(&owner))
        #expect(failure == .backendUnavailable(attempts: 2, lastError: "refused"))
        let end = owner.pool.nextRetryTime
        owner.now = end - 1
        #expect(owner.checkout().1 == .failed(failure), "no attempt can start before the backoff ends")
        #expect(owner.pool.statistics.connecting == 0)
        owner.now = end
        let (waiter, result) = owner.checkout()
        guard case .queued(let open?, nil) = result else { Issue.record("\(result)"); return }
        #expect(owner.opened(open) == .lease(open, to: waiter))
        #expect(owner.violations == [])
    }

    @Test func clientsArrivingDuringTheNextRoundWaitForIt() throws {
        var owner = PoolOwner(Self.configuration)
        _ = try #require(failRound(&owner))
        owner.now = owner.pool.nextRetryTime
        let (first, result) = owner.checkout()
        guard case .queued(let open?, nil) = result else { Issue.record("\(result)"); return }
        owner.failed(open)  // one failure of the new round: backing off, not unavailable
        let (second, during) = owner.checkout()
        #expect(during == .queued(open: nil, close: nil))
        let retry = owner.tick(at: owner.pool.nextRetryTime)
        guard case .openConnection(let next)? = retry.first else { Issue.record("\(retry)"); return }
        #expect(owner.opened(next) == .lease(next, to: first))
        #expect(owner.waiting[second] != nil)
        #expect(owner.violations == [])
    }

    @Test func aClientWaitsWhileLentConnectionsMayComeBack() throws {
        var owner = PoolOwner(Self.configuration)
        owner.checkout()
        owner.opened(1)  // lent, and healthy
        let (waiter, result) = owner.checkout()
        guard case .queued(let open?, nil) = result else { Issue.record("\(result)"); return }
        owner.failed(open)
        #expect(owner.tick(at: owner.pool.nextRetryTime) == [.openConnection(open + 1)])
        owner.failed(open + 1)
        #expect(owner.outcomes[waiter] == [.failed(.backendUnavailable(attempts: 2, lastError: "connection refused"))])
        let (next, during) = owner.checkout()
        #expect(during == .queued(open: nil, close: nil), "connection 1 will be released")
        #expect(owner.release(1) == .lease(1, to: next))
        #expect(owner.violations == [])
    }

    @Test func backendRecoveredEndsTheFastFailureAndTheBackoff() throws {
        var owner = PoolOwner(Self.configuration)
        _ = try #require(failRound(&owner))
        owner.now += 1 * second
        owner.pool.backendRecovered()
        #expect(owner.pool.nextRetryTime == 0)
        let (waiter, result) = owner.checkout()
        guard case .queued(let open?, nil) = result else { Issue.record("\(result)"); return }
        #expect(owner.opened(open) == .lease(open, to: waiter))
        #expect(owner.violations == [])
    }

    @Test func backendRecoveredLetsWaitersConnectAtTheNextTick() {
        var owner = PoolOwner(PoolConfiguration(
            maxConnections: 1, checkoutTimeout: 0, retryAttempts: 10, initialBackoff: 1 * second, maxBackoff: 10 * second
        ))
        owner.checkout()
        owner.failed(1)
        owner.now = 10 * millisecond
        #expect(owner.tick(at: owner.now).isEmpty, "backing off")
        owner.pool.backendRecovered()
        #expect(owner.tick(at: owner.now) == [.openConnection(2)])
        #expect(owner.violations == [])
    }
}

@Suite struct PoolProbeTests {
    @Test func probesTakePlacesWithinTheBound() {
        var owner = PoolOwner(PoolConfiguration(maxConnections: 2))
        #expect(owner.reserveProbe() == true)
        #expect(owner.reserveProbe() == true)
        #expect(owner.reserveProbe() == false, "the pool is full")
        #expect(owner.pool.statistics.total == 2)
        let (waiter, result) = owner.checkout()
        #expect(result == .queued(open: nil, close: nil), "no room for a third connection")
        #expect(owner.probeFinished() == .openConnection(1), "the freed place goes to the waiting client")
        #expect(owner.opened(1) == .lease(1, to: waiter))
        #expect(owner.probeFinished() == nil)
        #expect(owner.violations == [])
    }

    @Test func noProbeWhileClientsWait() {
        var owner = PoolOwner(PoolConfiguration(maxConnections: 3))
        owner.checkout()
        #expect(owner.reserveProbe() == false, "a client waits for connection 1")
        owner.opened(1)
        #expect(owner.reserveProbe() == true)
        #expect(owner.violations == [])
    }

    @Test func noProbeInAClosedPool() {
        var owner = PoolOwner(PoolConfiguration(maxConnections: 3))
        owner.close()
        #expect(owner.reserveProbe() == false)
    }

    @Test func probesDoNotCountTowardsTheMinimumOrTheIdleSurplus() throws {
        var owner = PoolOwner(PoolConfiguration(maxConnections: 3, minConnections: 1, idleTimeout: 10 * second))
        let id = try #require(parkOne(&owner))
        #expect(owner.reserveProbe() == true)
        #expect(owner.reserveProbe() == true)
        #expect(owner.tick(at: 60 * second).isEmpty, "the idle connection is the minimum, probes are not")
        #expect(owner.checkout().1 == .leased(id))
        #expect(owner.violations == [])
    }

    @Test func unbalancedProbeFinishedIsIgnored() {
        var pool = PoolStateMachine(configuration: PoolConfiguration(maxConnections: 1))
        #expect(pool.probeFinished(now: 0) == nil)
        #expect(pool.statistics.total == 0)
    }
}
