import PostgresWire
import Testing
@testable import ProxySession

private let idle = TransactionStatus.idle.rawValue
private let inTransaction = TransactionStatus.inTransaction.rawValue
private let failed = TransactionStatus.failed.rawValue

extension TransactionTracker {
    fileprivate mutating func send(_ ids: UInt8...) {
        for id in ids { self.clientSent(id) }
    }
}

@Suite struct TransactionTrackerTests {
    @Test func freshTrackerIsAtABoundary() {
        let tracker = TransactionTracker()
        #expect(tracker.isAtTransactionBoundary)
        #expect(tracker.isQuiet)
        #expect(tracker.pendingSyncPoints == 0)
        #expect(tracker.status == .idle)
    }

    @Test func simpleQueryCycle() {
        var tracker = TransactionTracker()
        tracker.send(FrontendMessageID.query)
        #expect(tracker.pendingSyncPoints == 1)
        #expect(!tracker.isAtTransactionBoundary)
        #expect(!tracker.isQuiet)
        #expect(tracker.serverReady(idle) == true)
        #expect(tracker.isAtTransactionBoundary)
        #expect(tracker.pendingSyncPoints == 0)
    }

    @Test func explicitTransactionKeepsTheConnectionUntilCommit() {
        var tracker = TransactionTracker()
        tracker.send(FrontendMessageID.query)  // BEGIN
        #expect(tracker.serverReady(inTransaction) == false)
        #expect(tracker.status == .inTransaction)
        #expect(!tracker.isAtTransactionBoundary)
        tracker.send(FrontendMessageID.query)  // UPDATE
        #expect(tracker.serverReady(inTransaction) == false)
        tracker.send(FrontendMessageID.query)  // COMMIT
        #expect(!tracker.isAtTransactionBoundary)
        #expect(tracker.serverReady(idle) == true)
        #expect(tracker.status == .idle)
    }

    @Test func failedTransactionKeepsTheConnectionUntilRollback() {
        var tracker = TransactionTracker()
        tracker.send(FrontendMessageID.query)  // BEGIN; SELECT 1/0
        #expect(tracker.serverReady(failed) == false)
        #expect(tracker.status == .failed)
        #expect(!tracker.isAtTransactionBoundary)
        tracker.send(FrontendMessageID.query)  // ROLLBACK
        #expect(tracker.serverReady(idle) == true)
    }

    @Test func unknownStatusByteIsTreatedAsFailed() {
        var tracker = TransactionTracker()
        tracker.send(FrontendMessageID.query)
        #expect(tracker.serverReady(UInt8(ascii: "?")) == false)
        #expect(tracker.status == .failed)
    }

    @Test func pipelinedSyncsReleaseOnlyAfterTheLastReadyForQuery() {
        var tracker = TransactionTracker()
        for _ in 0..<3 {
            tracker.send(
                FrontendMessageID.parse, FrontendMessageID.bind, FrontendMessageID.execute, FrontendMessageID.sync
            )
        }
        #expect(tracker.pendingSyncPoints == 3)
        #expect(!tracker.hasUnsyncedMessages)
        #expect(tracker.serverReady(idle) == false)
        #expect(!tracker.isAtTransactionBoundary)
        #expect(tracker.serverReady(idle) == false)
        #expect(tracker.pendingSyncPoints == 1)
        #expect(tracker.serverReady(idle) == true)
        #expect(tracker.isAtTransactionBoundary)
    }

    @Test func pipelineMixingSimpleAndExtendedQueries() {
        var tracker = TransactionTracker()
        tracker.send(FrontendMessageID.query, FrontendMessageID.parse, FrontendMessageID.sync)
        #expect(tracker.pendingSyncPoints == 2)
        #expect(tracker.serverReady(idle) == false)
        #expect(tracker.serverReady(idle) == true)
    }

    @Test(arguments: [
        FrontendMessageID.parse, FrontendMessageID.bind, FrontendMessageID.describe,
        FrontendMessageID.execute, FrontendMessageID.close, FrontendMessageID.flush,
    ])
    func unsyncedExtendedMessageKeepsTheConnectionBusy(id: UInt8) {
        var tracker = TransactionTracker()
        tracker.send(FrontendMessageID.query)
        tracker.send(id)
        #expect(tracker.hasUnsyncedMessages)
        // The ReadyForQuery of the earlier Query does not release it: the server holds the unsynced state.
        #expect(tracker.serverReady(idle) == false)
        #expect(!tracker.isAtTransactionBoundary)
        #expect(!tracker.isQuiet)
        tracker.send(FrontendMessageID.sync)
        #expect(!tracker.hasUnsyncedMessages)
        #expect(!tracker.isAtTransactionBoundary)
        #expect(tracker.serverReady(idle) == true)
    }

    @Test func parseBindDescribeFlushWithoutSync() {
        var tracker = TransactionTracker()
        tracker.send(
            FrontendMessageID.parse, FrontendMessageID.bind, FrontendMessageID.describe, FrontendMessageID.flush
        )
        #expect(tracker.pendingSyncPoints == 0)
        #expect(!tracker.isAtTransactionBoundary)
        #expect(!tracker.isQuiet)
        tracker.send(FrontendMessageID.execute, FrontendMessageID.sync)
        #expect(!tracker.isAtTransactionBoundary)
        #expect(tracker.serverReady(idle) == true)
    }

    @Test func copyDataDoesNotCount() {
        var tracker = TransactionTracker()
        tracker.send(FrontendMessageID.query)  // COPY t FROM STDIN
        tracker.send(FrontendMessageID.copyData, FrontendMessageID.copyData, FrontendMessageID.copyDone)
        #expect(tracker.pendingSyncPoints == 1)
        #expect(!tracker.hasUnsyncedMessages)
        #expect(tracker.serverReady(idle) == true)

        tracker.send(FrontendMessageID.query, FrontendMessageID.copyData, FrontendMessageID.copyFail)
        #expect(tracker.pendingSyncPoints == 1)
        #expect(tracker.serverReady(idle) == true)
    }

    /// BUG: "The backend will ignore Flush and Sync messages received during copy-in mode" (protocol docs,
    /// COPY Operations). Clients that always send Sync after Execute (tokio-postgres `copy_in`: Bind, Execute,
    /// Sync, CopyData..., CopyDone, Sync) get one ReadyForQuery for two Syncs; the tracker counts both
    /// (TransactionTracker.swift:22-24), stays one sync point behind for the rest of the session, and the
    /// connection never returns to the pool.
    @Test func syncDuringCopyInIsNotASyncPoint() {
        var tracker = TransactionTracker()
        tracker.send(FrontendMessageID.bind, FrontendMessageID.execute, FrontendMessageID.sync)  // COPY t FROM STDIN
        // Server: BindComplete, CopyInResponse; the Sync above is ignored in copy-in mode.
        tracker.send(FrontendMessageID.copyData, FrontendMessageID.copyData, FrontendMessageID.copyDone)
        tracker.send(FrontendMessageID.sync)
        // Server: CommandComplete, then the only ReadyForQuery of this exchange.
        #expect(tracker.serverReady(idle) == true)
        #expect(tracker.pendingSyncPoints == 0)
    }

    @Test func copyDataAloneLeavesABoundary() {
        var tracker = TransactionTracker()
        tracker.send(FrontendMessageID.copyData, FrontendMessageID.copyDone, FrontendMessageID.terminate)
        #expect(tracker.isAtTransactionBoundary)
    }

    @Test func functionCallIsASyncPoint() {
        var tracker = TransactionTracker()
        tracker.send(FrontendMessageID.functionCall)
        #expect(tracker.pendingSyncPoints == 1)
        #expect(!tracker.isAtTransactionBoundary)
        #expect(tracker.serverReady(idle) == true)
    }

    @Test func isQuietInsideATransaction() {
        var tracker = TransactionTracker()
        tracker.send(FrontendMessageID.query)
        #expect(!tracker.isQuiet)
        _ = tracker.serverReady(inTransaction)
        #expect(tracker.isQuiet)
        #expect(!tracker.isAtTransactionBoundary)
        tracker.send(FrontendMessageID.parse)
        #expect(!tracker.isQuiet)
    }

    @Test func isQuietInAFailedTransaction() {
        var tracker = TransactionTracker()
        tracker.send(FrontendMessageID.query)
        _ = tracker.serverReady(failed)
        #expect(tracker.isQuiet)
        #expect(!tracker.isAtTransactionBoundary)
    }

    @Test func unsolicitedReadyForQueryDoesNotUnderflow() {
        var tracker = TransactionTracker()
        #expect(tracker.serverReady(idle) == true)
        #expect(tracker.pendingSyncPoints == 0)
        tracker.send(FrontendMessageID.query)
        #expect(tracker.pendingSyncPoints == 1)
    }

    @Test func resetForgetsEverything() {
        var tracker = TransactionTracker()
        tracker.send(FrontendMessageID.query, FrontendMessageID.parse)
        _ = tracker.serverReady(inTransaction)
        tracker.reset()
        #expect(tracker == TransactionTracker())
        #expect(tracker.isAtTransactionBoundary)
    }
}
