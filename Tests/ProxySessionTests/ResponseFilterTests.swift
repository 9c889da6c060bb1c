import PostgresWire
import Testing
@testable import ProxySession

private let parseComplete = BackendMessageID.parseComplete
private let closeComplete = BackendMessageID.closeComplete
private let bindComplete = BackendMessageID.bindComplete
private let ready = BackendMessageID.readyForQuery
private let error = BackendMessageID.errorResponse
private let commandComplete = BackendMessageID.commandComplete
private let parameterStatus = BackendMessageID.parameterStatus

extension ResponseFilter {
    fileprivate mutating func receive(_ ids: UInt8...) -> [MessageDisposition] {
        ids.map { self.received($0) }
    }
}

@Suite struct ResponseFilterTests {
    @Test func inactiveFilterForwardsEverything() {
        var filter = ResponseFilter()
        #expect(!filter.isActive)
        #expect(filter.receive(parseComplete, bindComplete, commandComplete, ready) == [.forward, .forward, .forward, .forward])
        #expect(filter.receivedSegments == 1)
    }

    /// Client: Parse(unnamed) Bind Execute, [proxy: Parse __sp_1] Bind(__sp_1) Execute Sync.
    @Test func injectedParseCompleteIsDroppedByOrdinal() {
        var filter = ResponseFilter()
        filter.expect(.parse(statement: 1, clientName: nil, ordinal: 1), clientPendingSyncPoints: 0)
        #expect(filter.isActive)
        let out = filter.receive(parseComplete, bindComplete, commandComplete, parseComplete, bindComplete, commandComplete, ready)
        #expect(out == [.forward, .forward, .forward, .drop, .forward, .forward, .forward])
        #expect(!filter.isActive)
        #expect(filter.takeFailures().isEmpty)
    }

    @Test func counterKeptWhileInactiveLinesUpALaterExpectation() {
        var filter = ResponseFilter()
        // The first ParseComplete of the segment arrives before the expectation for the second Parse exists.
        filter.count(parseComplete)
        filter.expect(.parse(statement: 7, clientName: nil, ordinal: 1), clientPendingSyncPoints: 0)
        #expect(filter.receive(parseComplete, ready) == [.drop, .forward])
    }

    @Test func closeStandingInForParseBecomesParseComplete() {
        var filter = ResponseFilter()
        filter.expect(.parseAnsweredByClose(clientName: "s1", ordinal: 0), clientPendingSyncPoints: 0)
        #expect(filter.receive(closeComplete, ready) == [.translate(to: parseComplete), .forward])
        #expect(filter.takeFailures().isEmpty)
    }

    @Test func clientsOwnCloseCompletesAreNotTranslated() {
        var filter = ResponseFilter()
        // The client closes something first (ordinal 0); the stand-in is the second Close.
        filter.expect(.parseAnsweredByClose(clientName: "s1", ordinal: 1), clientPendingSyncPoints: 0)
        #expect(filter.receive(closeComplete, closeComplete, ready) == [.forward, .translate(to: parseComplete), .forward])
    }

    @Test func skippedAfterAnErrorIsReportedAtReadyForQuery() {
        var filter = ResponseFilter()
        filter.expect(.parse(statement: 3, clientName: nil, ordinal: 0), clientPendingSyncPoints: 0)
        filter.expect(.parse(statement: 4, clientName: "mine", ordinal: 1), clientPendingSyncPoints: 0)
        filter.expect(.parseAnsweredByClose(clientName: "other", ordinal: 0), clientPendingSyncPoints: 0)
        // The injected Parse fails: its error reaches the client, everything else is skipped.
        #expect(filter.receive(error, ready) == [.forward, .forward])
        #expect(filter.takeFailures() == [
            .init(statement: 3, clientName: nil), .init(statement: 4, clientName: "mine"), .init(statement: nil, clientName: "other"),
        ])
        #expect(!filter.isActive)
    }

    @Test func expectationsBelongToTheirSegment() {
        var filter = ResponseFilter()
        // Two segments in flight from the client; the injected Parse is in the second.
        filter.expect(.parse(statement: 9, clientName: nil, ordinal: 0), clientPendingSyncPoints: 1)
        #expect(filter.receive(parseComplete, bindComplete, ready) == [.forward, .forward, .forward])
        #expect(filter.receive(parseComplete, bindComplete, ready) == [.drop, .forward, .forward])
        #expect(filter.takeFailures().isEmpty)
    }

    @Test func ownQueryRepliesAreDroppedButParameterStatusPasses() {
        var filter = ResponseFilter()
        filter.expect(.ownQuery, clientPendingSyncPoints: 0)
        filter.expect(.ownQuery, clientPendingSyncPoints: 0)
        // A client Parse after both own queries: its segment is the third.
        filter.expect(.parse(statement: 2, clientName: nil, ordinal: 0), clientPendingSyncPoints: 0)
        #expect(filter.ownQueriesOutstanding == 2)
        #expect(filter.receive(commandComplete, parameterStatus, ready) == [.drop, .forward, .drop])
        #expect(filter.receive(error, ready) == [.drop, .drop])
        #expect(filter.ownQueriesOutstanding == 0)
        #expect(filter.receive(parseComplete, bindComplete, ready) == [.drop, .forward, .forward])
        #expect(!filter.isActive)
    }

    @Test func segmentArithmeticCountsOwnQueriesAndClientSyncPoints() {
        var filter = ResponseFilter()
        filter.expect(.ownQuery, clientPendingSyncPoints: 0)
        #expect(filter.segment(clientPendingSyncPoints: 2) == 3)
        _ = filter.receive(commandComplete, ready)
        #expect(filter.segment(clientPendingSyncPoints: 2) == 3)
    }
}
