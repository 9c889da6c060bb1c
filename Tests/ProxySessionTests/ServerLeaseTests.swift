import NIOCore
import PostgresWire
import Testing
@testable import ProxySession

private final class FakeServer {}

private func tracker(_ messages: [UInt8], readyStatus: UInt8? = nil) -> TransactionTracker {
    var tracker = TransactionTracker()
    for id in messages { tracker.clientSent(id) }
    if let readyStatus { _ = tracker.serverReady(readyStatus) }
    return tracker
}

@Suite struct ServerLeaseTests {
    @Test func asksThePoolOnceAndUsesWhatArrives() {
        var lease = ServerLease<FakeServer>()
        let asked = NIODeadline.uptimeNanoseconds(5)
        let first = lease.request(now: asked)
        let again = lease.request(now: nil)  // already waiting
        #expect(first && !again)
        #expect(lease.isWaiting && !lease.isFree)
        let server = FakeServer()
        guard case .use(let since) = lease.arrived(server) else { Issue.record("not used"); return }
        #expect(since == asked)
        #expect(lease.server === server)
        let whileLent = lease.request(now: nil)
        #expect(!whileLent)
    }

    @Test func aConnectionNobodyWaitsForGoesBack() {
        var lease = ServerLease<FakeServer>()
        guard case .giveBack = lease.arrived(FakeServer()) else { Issue.record("kept"); return }
        #expect(lease.isFree)
    }

    @Test func endsOnlyForTheConnectionLent() {
        var lease = ServerLease<FakeServer>()
        let server = FakeServer()
        _ = lease.request(now: nil)
        _ = lease.arrived(server)
        let other = lease.end(FakeServer())  // another connection's loss is not ours
        #expect(other == nil)
        let ended = lease.end(server)
        #expect(ended === server)
        #expect(lease.isFree)
        let none = lease.end()
        #expect(none == nil)
    }

    @Test func aFailedCheckoutTellsOnlyAWaitingClient() {
        var lease = ServerLease<FakeServer>()
        let notWaiting = lease.checkoutFailed()
        _ = lease.request(now: nil)
        let waiting = lease.checkoutFailed()
        #expect(!notWaiting && waiting)
        #expect(lease.isFree)
    }

    @Test func aGoneClientsConnectionGoesBackByWhereItsTransactionStands() {
        let boundary = tracker([FrontendMessageID.query], readyStatus: UInt8(ascii: "I"))
        let inTransaction = tracker([FrontendMessageID.query], readyStatus: UInt8(ascii: "T"))
        let inFlight = tracker([FrontendMessageID.query])
        let cases: [(TransactionTracker, Bool, ServerLease<FakeServer>.GiveBack)] = [
            (boundary, false, .release(reusable: true)),
            (boundary, true, .reset(["DISCARD ALL"])),
            (inTransaction, false, .reset(["ROLLBACK"])),
            (inTransaction, true, .reset(["ROLLBACK", "DISCARD ALL"])),
            (inFlight, false, .release(reusable: false)),
            (inFlight, true, .release(reusable: false)),
        ]
        for (tracker, sessionPooling, expected) in cases {
            var lease = ServerLease<FakeServer>()
            let server = FakeServer()
            _ = lease.request(now: nil)
            _ = lease.arrived(server)
            let (how, given) = lease.clientGone(tracker: tracker, sessionPooling: sessionPooling)
            #expect(how == expected)
            #expect(given === server)
            #expect(lease.isFree)
        }
    }

    @Test func aGoneClientLeavesThePoolsQueue() {
        var lease = ServerLease<FakeServer>()
        let nothing = lease.clientGone(tracker: TransactionTracker(), sessionPooling: false).0
        #expect(nothing == .nothing)
        _ = lease.request(now: nil)
        let (how, server) = lease.clientGone(tracker: TransactionTracker(), sessionPooling: false)
        #expect(how == .cancelWaiting && server == nil)
        #expect(lease.isFree)
    }
}
