import NIOCore
import PostgresWire
import Testing
@testable import ProxySession

/// What went to the server connection, decoded enough to check: (type, statement name, text).
private struct Sent: Equatable, CustomStringConvertible {
    var id: Character
    var name: String
    var text: String?
    var description: String { "\(self.id)(\(self.name)\(self.text.map { ", " + $0 } ?? ""))" }
}

private func decode(_ buffers: [ByteBuffer]) -> [Sent] {
    buffers.flatMap { buffer -> [Sent] in
        var scanner = FrontendStreamScanner(startingAt: buffer.readerIndex)
        var found: [Sent] = []
        while let message = try! scanner.next(in: buffer) {
            let name = message.statementName.map { String(decoding: buffer.readableBytesView[$0], as: UTF8.self) } ?? "?"
            let text = message.statementText.map { String(decoding: buffer.readableBytesView[$0], as: UTF8.self) }
            found.append(Sent(id: Character(UnicodeScalar(message.id)), name: name, text: text))
        }
        return found
    }
}

private func body(_ sql: String) -> [UInt8] { Array(sql.utf8) + [0, 0, 0] }

/// A server connection as the session sees it, and what was written to it.
private struct Server {
    var session = ServerSessionState(statementCapacity: 16)
    var filter = ResponseFilter()
    var written: [ByteBuffer] = []
    var sent: [Sent] { decode(self.written) }
}

@Suite struct SharedStatementTests {
    @Test func aNewStatementIsParsedUnderTheProxysName() {
        var session = TransactionPoolingSession()
        var server = Server()
        session.parseNamed("q", body: body("SELECT 1"), effects: [], catalogNumber: { 5 },
                           server: &server.session, filter: &server.filter, pendingSyncPoints: 0,
                           write: { server.written.append($0) })
        #expect(server.sent == [Sent(id: "P", name: "__sp_5", text: "SELECT 1")])
        #expect(session.preparedStatements["q"]?.number == 5)
        #expect(session.parsesSinceSync == 1)
        #expect(server.session.statements.contains(5))
        // The server's ParseComplete answers the client's Parse: it passes.
        #expect(server.filter.received(BackendMessageID.parseComplete) == .forward)
    }

    @Test func aStatementTheServerHoldsIsAnsweredByAClose() {
        var session = TransactionPoolingSession()
        var server = Server()
        server.session.statements.use(5)
        session.parseNamed("q", body: body("SELECT 1"), effects: [], catalogNumber: { 5 },
                           server: &server.session, filter: &server.filter, pendingSyncPoints: 0,
                           write: { server.written.append($0) })
        #expect(server.sent == [Sent(id: "C", name: ProxyStatementName.absentName, text: nil)])
        #expect(session.closesSinceSync == 1 && session.parsesSinceSync == 0)
        // Its CloseComplete reaches the client as the ParseComplete it expects.
        #expect(server.filter.received(BackendMessageID.closeComplete) == .translate(to: BackendMessageID.parseComplete))
    }

    @Test func aSecondParseOfANameInUseLetsTheServerRefuseIt() {
        var session = TransactionPoolingSession()
        session.preparedStatements["q"] = ClientPreparedStatement(number: 5, parse: ByteBuffer())
        var server = Server()
        var numbered = false
        session.parseNamed("q", body: body("SELECT 2"), effects: [], catalogNumber: { numbered = true; return 6 },
                           server: &server.session, filter: &server.filter, pendingSyncPoints: 0,
                           write: { server.written.append($0) })
        #expect(!numbered)
        #expect(server.sent == [Sent(id: "P", name: "q", text: "SELECT 1"), Sent(id: "P", name: "q", text: "SELECT 2")])
        #expect(server.session.clientNamesToDeallocate == ["q"])
        #expect(session.preparedStatements["q"]?.number == 5)  // the client's statement is unchanged
        #expect(session.parsesSinceSync == 2)
        // The placeholder's ParseComplete is the proxy's own; the second Parse's answer (42P05) is the client's.
        #expect(server.filter.received(BackendMessageID.parseComplete) == .drop)
    }

    @Test func aClientNameLikeTheProxysIsEscaped() {
        var session = TransactionPoolingSession()
        session.preparedStatements["__sp_9"] = ClientPreparedStatement(number: 1, parse: ByteBuffer())
        var server = Server()
        session.parseNamed("__sp_9", body: body("SELECT 2"), effects: [], catalogNumber: { 2 },
                           server: &server.session, filter: &server.filter, pendingSyncPoints: 0,
                           write: { server.written.append($0) })
        #expect(server.sent.map(\.name) == ["__spc__sp_9", "__spc__sp_9"])
    }

    @Test func aBoundStatementIsPreparedOnlyWhereItIsMissing() {
        var session = TransactionPoolingSession()
        let statement = ClientPreparedStatement(
            number: 3, parse: TransactionPoolingSession.parseMessage(named: "__sp_3", body: body("SELECT 3")))
        var server = Server()
        session.ensurePrepared(statement, server: &server.session, filter: &server.filter, pendingSyncPoints: 0,
                               write: { server.written.append($0) })
        #expect(server.sent == [Sent(id: "P", name: "__sp_3", text: "SELECT 3")])
        server.written.removeAll()
        session.ensurePrepared(statement, server: &server.session, filter: &server.filter, pendingSyncPoints: 0,
                               write: { server.written.append($0) })
        #expect(server.sent.isEmpty)
    }

    @Test func aStatementThatMayHaveBeenDeallocatedIsClosedFirst() {
        var session = TransactionPoolingSession()
        let statement = ClientPreparedStatement(
            number: 3, parse: TransactionPoolingSession.parseMessage(named: "__sp_3", body: body("SELECT 3")))
        var server = Server()
        server.session.statements.use(3)
        server.session.sent(.deallocate(name: "__sp_3"))  // it may or may not have run
        session.ensurePrepared(statement, server: &server.session, filter: &server.filter, pendingSyncPoints: 0,
                               write: { server.written.append($0) })
        #expect(server.sent == [Sent(id: "C", name: "__sp_3", text: nil), Sent(id: "P", name: "__sp_3", text: "SELECT 3")])
        #expect(session.closesSinceSync == 1 && session.parsesSinceSync == 1)
        #expect(server.filter.received(BackendMessageID.closeComplete) == .drop)
        #expect(server.filter.received(BackendMessageID.parseComplete) == .drop)
    }

    @Test func theUnnamedStatementIsParsedAgainAfterALeaseEnds() {
        var session = TransactionPoolingSession()
        var server = Server()
        let parse = TransactionPoolingSession.parseMessage(named: "", body: body("SET work_mem = '8MB'"))
        let effects: [SessionCommand] = [.set(name: "work_mem", statement: "SET work_mem = '8MB'")]
        session.remember(unnamed: parse, effects: effects)
        let sameLease = session.parseUnnamedAgainIfNeeded(filter: &server.filter, pendingSyncPoints: 0,
                                                          write: { server.written.append($0) })
        #expect(sameLease == nil && server.written.isEmpty)
        session.leaseEnded()
        let again = session.parseUnnamedAgainIfNeeded(filter: &server.filter, pendingSyncPoints: 0,
                                                      write: { server.written.append($0) })
        #expect(again == effects)
        #expect(server.sent == [Sent(id: "P", name: "", text: "SET work_mem = '8MB'")])
        #expect(session.unnamedStatementOnServer)
    }

    @Test func ordinalsStartAgainAtEachSyncPoint() {
        var session = TransactionPoolingSession()
        session.forwarded(FrontendMessageID.parse)
        _ = session.closeNamed("gone")
        session.forwarded(FrontendMessageID.bind)
        #expect(session.parsesSinceSync == 1 && session.closesSinceSync == 1)
        session.syncPointSent()
        #expect(session.parsesSinceSync == 0 && session.closesSinceSync == 0)
    }
}
