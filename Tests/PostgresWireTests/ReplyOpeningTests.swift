import NIOCore
import Testing
@testable import PostgresWire

private func replies(_ build: (inout MessageWriter) -> Void) -> ByteBuffer {
    var writer = MessageWriter(buffer: ByteBufferAllocator().buffer(capacity: 256))
    build(&writer)
    return writer.buffer
}

private func empty(_ id: UInt8) -> (inout MessageWriter) -> Void {
    { $0.writeMessage(id) { _ in } }
}

@Suite struct ReplyOpeningTests {
    @Test func preambleAloneWaits() {
        let buffer = replies { w in
            w.writeMessage(BackendMessageID.parseComplete) { _ in }
            w.writeMessage(BackendMessageID.bindComplete) { _ in }
            w.writeRowDescription(columns: ["a"])
        }
        #expect(ReplyOpening.classify(buffer) == .preambleOnly)
    }

    @Test func resumingAfterJudgedPreambleAgreesWithAFullScan() {
        let preamble = replies { w in
            w.writeMessage(BackendMessageID.parseComplete) { _ in }
            w.writeMessage(BackendMessageID.bindComplete) { _ in }
        }
        let endings: [(inout MessageWriter) -> Void] = [
            { w in w.writeRowDescription(columns: ["a"]) },
            { w in w.writeDataRow(["1"]) },
            { w in w.writeError(.fatal(.adminShutdown, "terminating connection due to administrator command")) },
        ]
        for ending in endings {
            var whole = preamble
            whole.writeImmutableBuffer(replies(ending))
            var end = 0
            #expect(ReplyOpening.classify(whole, from: preamble.writerIndex, preambleEnd: &end)
                    == ReplyOpening.classify(whole))
        }
        var end = 0
        #expect(ReplyOpening.classify(preamble, from: preamble.writerIndex, preambleEnd: &end) == .preambleOnly)
        #expect(end == preamble.writerIndex)
    }

    @Test func aStalePlanErrorWaitingForItsReadyForQueryIsJudgedAgainWhenItArrives() {
        // The error arrives in one read, its ReadyForQuery in the next: the held bytes are not all preamble.
        var first = replies { w in
            w.writeMessage(BackendMessageID.parseComplete) { _ in }
            w.writeError(.error(.featureNotSupported, "cached plan must not change result type"))
        }
        var end = 0
        #expect(ReplyOpening.classify(first, from: first.readerIndex, preambleEnd: &end) == .preambleOnly)
        #expect(end < first.writerIndex, "the error is not preamble")
        first.writeImmutableBuffer(replies { w in w.writeReadyForQuery(.idle) })
        #expect(ReplyOpening.classify(first, from: end, preambleEnd: &end) == .stalePlan)
    }

    @Test func resultsMeanAnswered() {
        let buffer = replies { w in
            w.writeMessage(BackendMessageID.bindComplete) { _ in }
            w.writeDataRow(["1"])
        }
        #expect(ReplyOpening.classify(buffer) == .answered)
        #expect(ReplyOpening.classify(replies { $0.writeReadyForQuery(.idle) }) == .answered)
        #expect(ReplyOpening.classify(replies { $0.writeCommandComplete("SELECT 1") }) == .answered)
    }

    @Test(arguments: ["57P01", "57P02", "57P03"])
    func terminationAfterPreamble(_ code: String) {
        let buffer = replies { w in
            w.writeMessage(BackendMessageID.parseComplete) { _ in }
            w.writeError(.fatal(SQLState(code), "terminating connection due to administrator command"))
        }
        #expect(ReplyOpening.classify(buffer) == .terminated)
    }

    @Test func terminationAfterAResultIsTooLate() {
        let buffer = replies { w in
            w.writeCommandComplete("INSERT 0 1")
            w.writeError(.fatal(.adminShutdown, "terminating connection due to administrator command"))
        }
        #expect(ReplyOpening.classify(buffer) == .answered)
    }

    @Test func ordinaryErrorIsAnswered() {
        #expect(ReplyOpening.classify(replies { $0.writeError(.error(.syntaxError, "syntax error")) }) == .answered)
    }

    @Test func stalePlanNeedsItsIdleReadyForQueryAndNothingAfter() {
        let stale = ErrorFields.error(.featureNotSupported, "cached plan must not change result type")
        #expect(ReplyOpening.classify(replies { w in w.writeError(stale); w.writeReadyForQuery(.idle) }) == .stalePlan)
        // Not yet arrived: wait.
        #expect(ReplyOpening.classify(replies { w in w.writeError(stale) }) == .preambleOnly)
        // Inside a transaction block: the client must see it.
        #expect(ReplyOpening.classify(replies { w in w.writeError(stale); w.writeReadyForQuery(.failed) }) == .answered)
        // More after the ReadyForQuery (another sync point was answered): not replayable.
        #expect(ReplyOpening.classify(replies { w in
            w.writeError(stale); w.writeReadyForQuery(.idle); w.writeMessage(BackendMessageID.bindComplete) { _ in }
        }) == .answered)
    }

    @Test func partialMessageIsAnswered() {
        var buffer = replies { $0.writeRowDescription(columns: ["a", "b"]) }
        buffer.moveWriterIndex(to: buffer.writerIndex - 3)
        #expect(ReplyOpening.classify(buffer) == .answered)
    }
}
