import NIOCore
import PostgresWire
import SchemaRouting
import Testing
@testable import ProxySession

private func rewriter(_ schema: String = "shared_common", statistics: RewriteStatistics = RewriteStatistics()) -> SchemaRewriter {
    SchemaRewriter(mapping: try! SchemaMapping(schemas: [schema: ["users"]]), statistics: statistics)
}

/// A frontend message in a buffer with `junk` bytes before it (it was read after other messages), and its frame.
private func message(_ id: Character, _ payload: [UInt8], junk: Int = 3) -> (ByteBuffer, FrontendMessage) {
    var buffer = ByteBuffer(bytes: [UInt8](repeating: 0xEE, count: junk))
    var writer = MessageWriter(buffer: buffer)
    writer.writeMessage(id.asciiValue!) { $0.writeBytes(payload) }
    buffer = writer.buffer
    var scanner = FrontendStreamScanner(startingAt: junk)
    return (buffer, try! scanner.next(in: buffer)!)
}

/// Where a buffer's bytes live: equal for two buffers that share storage.
private func storage(of buffer: ByteBuffer) -> UnsafeRawPointer? {
    buffer.withUnsafeReadableBytes { UnsafeRawPointer($0.baseAddress) }
}

private func cString(_ text: String) -> [UInt8] { Array(text.utf8) + [0] }

/// The message's statement text as the stage sends it.
private func textOf(_ sent: ByteBuffer) -> String? {
    var scanner = FrontendStreamScanner(startingAt: sent.readerIndex)
    guard let message = try? scanner.next(in: sent), let text = message.statementText else { return nil }
    #expect(message.end == sent.writerIndex)  // its length field covers exactly what was written
    return String(decoding: sent.readableBytesView[text], as: UTF8.self)
}

@Suite struct RewriteStageTests {
    @Test func aQueryIsRewrittenInItsOwnMessage() {
        var stage = RewriteStage()
        let (buffer, query) = message("Q", cString("SELECT * FROM users"))
        let sent = stage.rewrittenMessage(query.frame, text: query.statementText!, in: buffer, with: rewriter())
        #expect(sent.flatMap(textOf) == "SELECT * FROM shared_common.users")
    }

    @Test func aParseKeepsItsNameAndParameterTypes() throws {
        var stage = RewriteStage()
        let (buffer, parse) = message("P", cString("q1") + cString("SELECT * FROM users WHERE id = $1") + [0, 1, 0, 0, 0, 23])
        let rewritten = stage.rewrittenMessage(parse.frame, text: parse.statementText!, in: buffer, with: rewriter())
        let sent = try #require(rewritten)
        var scanner = FrontendStreamScanner(startingAt: sent.readerIndex)
        let next = try scanner.next(in: sent)
        let out = try #require(next)
        #expect(String(decoding: sent.readableBytesView[out.statementName!], as: UTF8.self) == "q1")
        #expect(String(decoding: sent.readableBytesView[out.statementText!], as: UTF8.self)
            == "SELECT * FROM shared_common.users WHERE id = $1")
        #expect(Array(sent.readableBytesView[out.statementText!.upperBound...]) == [0, 0, 1, 0, 0, 0, 23])
    }

    @Test func anUnmappedStatementStaysAsItIs() {
        var stage = RewriteStage()
        let (buffer, query) = message("Q", cString("SELECT * FROM orders"))
        let sent = stage.rewrittenMessage(query.frame, text: query.statementText!, in: buffer, with: rewriter())
        #expect(sent == nil)
    }

    @Test func aRepeatIsOneComparisonAndStillCounted() {
        var stage = RewriteStage()
        let statistics = RewriteStatistics()
        let routing = rewriter(statistics: statistics)
        let (first, query) = message("Q", cString("SELECT * FROM users"), junk: 0)
        let sentFirst = stage.rewrittenMessage(query.frame, text: query.statementText!, in: first, with: routing)
        // The same bytes in another read, elsewhere in its buffer.
        let (again, repeated) = message("Q", cString("SELECT * FROM users"), junk: 9)
        let sentAgain = stage.rewrittenMessage(repeated.frame, text: repeated.statementText!, in: again, with: routing)
        #expect(sentFirst == sentAgain)
        // Served from what the stage remembered: the very bytes it sent before, not a new rewrite.
        #expect(storage(of: sentFirst!) == storage(of: sentAgain!))
        #expect(statistics.rewritten == 2)  // still counted as a rewrite
    }

    @Test func aReloadedMappingIsNotServedFromTheLastRewrite() {
        var stage = RewriteStage()
        let (buffer, query) = message("Q", cString("SELECT * FROM users"))
        _ = stage.rewrittenMessage(query.frame, text: query.statementText!, in: buffer, with: rewriter("old_schema"))
        let sent = stage.rewrittenMessage(query.frame, text: query.statementText!, in: buffer, with: rewriter("new_schema"))
        #expect(sent.flatMap(textOf) == "SELECT * FROM new_schema.users")
    }

    @Test func whatWasRememberedDoesNotPinTheReadBuffer() {
        var stage = RewriteStage()
        let routing = rewriter()
        var (buffer, query) = message("Q", cString("SELECT * FROM users"))
        let sent = stage.rewrittenMessage(query.frame, text: query.statementText!, in: buffer, with: routing)
        // The read buffer is overwritten by the next read; what was sent and remembered is unaffected.
        buffer.setBytes([UInt8](repeating: UInt8(ascii: "x"), count: buffer.writerIndex - 8), at: 8)
        #expect(sent.flatMap(textOf) == "SELECT * FROM shared_common.users")
        let (fresh, same) = message("Q", cString("SELECT * FROM users"))
        let again = stage.rewrittenMessage(same.frame, text: same.statementText!, in: fresh, with: routing)
        #expect(again == sent)
    }

    @Test func aLongStatementIsRewrittenButNotRemembered() {
        var stage = RewriteStage()
        let statistics = RewriteStatistics()
        let routing = rewriter(statistics: statistics)
        let long = "SELECT * FROM users WHERE name IN (" + Array(repeating: "'a'", count: 1500).joined(separator: ",") + ")"
        let (buffer, query) = message("Q", cString(long))
        #expect(query.frame.totalLength > RewriteStage.maximumRemembered)
        let first = stage.rewrittenMessage(query.frame, text: query.statementText!, in: buffer, with: routing)
        let second = stage.rewrittenMessage(query.frame, text: query.statementText!, in: buffer, with: routing)
        #expect(first.flatMap(textOf)?.hasPrefix("SELECT * FROM shared_common.users WHERE") == true)
        #expect(first == second)
        #expect(storage(of: first!) != storage(of: second!))  // rewritten again: not remembered
    }
}
