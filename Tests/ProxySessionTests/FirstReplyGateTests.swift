import NIOCore
import PostgresWire
import Testing
@testable import ProxySession

private func replies(_ build: (inout MessageWriter) -> Void) -> ByteBuffer {
    var writer = MessageWriter(buffer: ByteBufferAllocator().buffer(capacity: 256))
    build(&writer)
    return writer.buffer
}

private let preamble = replies { w in
    w.writeMessage(BackendMessageID.parseComplete) { _ in }
    w.writeMessage(BackendMessageID.bindComplete) { _ in }
}

private let results = replies { w in
    w.writeDataRow(["1"])
    w.writeCommandComplete("SELECT 1")
    w.writeReadyForQuery(.idle)
}

@Suite struct FirstReplyGateTests {
    @Test func preambleIsHeldUntilResultsThenAllOfItGoesOnInOrder() throws {
        var gate = FirstReplyGate()
        gate.begin()
        guard case .held = gate.received(preamble, mayHold: true) else { Issue.record("not held"); return }
        guard case .judged(let opening, let out) = gate.received(results, mayHold: true) else {
            Issue.record("not judged"); return
        }
        #expect(opening == .answered)
        var expected = preamble
        expected.writeImmutableBuffer(results)
        #expect(out == expected)
        gate.resultsBegan()
        guard case .pass(let later) = gate.received(results, mayHold: true) else { Issue.record("not passed"); return }
        #expect(later == results)
    }

    @Test func aClientThatCannotBeRetriedGetsThePreambleAtOnce() {
        var gate = FirstReplyGate()
        gate.begin()
        guard case .judged(.preambleOnly, let out) = gate.received(preamble, mayHold: false) else {
            Issue.record("held"); return
        }
        #expect(out == preamble)
    }

    @Test func heldRepliesAreBounded() {
        var gate = FirstReplyGate()
        gate.begin()
        var many = ByteBuffer()
        while many.readableBytes <= FirstReplyGate.maximumHeld {
            many.writeImmutableBuffer(preamble)
        }
        guard case .judged(.preambleOnly, let out) = gate.received(many, mayHold: true) else {
            Issue.record("held past the bound"); return
        }
        #expect(out.readableBytes > FirstReplyGate.maximumHeld)
    }

    @Test func aTerminationAfterHeldPreambleIsJudgedWithEverything() {
        var gate = FirstReplyGate()
        gate.begin()
        _ = gate.received(preamble, mayHold: true)
        let fatal = replies { $0.writeError(.fatal(.adminShutdown, "terminating connection due to administrator command")) }
        guard case .judged(.terminated, let out) = gate.received(fatal, mayHold: true) else {
            Issue.record("not judged terminated"); return
        }
        #expect(out.readableBytes == preamble.readableBytes + fatal.readableBytes)
    }

    @Test func aNewLeaseForgetsWhatWasHeld() {
        var gate = FirstReplyGate()
        gate.begin()
        _ = gate.received(preamble, mayHold: true)
        gate.begin()  // a retry sends the client's messages again: the old replies were swallowed
        guard case .judged(.answered, let out) = gate.received(results, mayHold: true) else {
            Issue.record("not judged"); return
        }
        #expect(out == results)
    }

    @Test func outsideALeaseReadsPass() {
        var gate = FirstReplyGate()
        guard case .pass = gate.received(preamble, mayHold: true) else { Issue.record("judged"); return }
    }
}
