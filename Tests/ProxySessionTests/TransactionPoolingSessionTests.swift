import NIOCore
import PostgresWire
import Testing
@testable import ProxySession

private func command(_ sql: String) -> SessionCommand {
    var sql = sql
    let found = sql.withUTF8 { SessionCommand.find(in: UnsafeRawBufferPointer($0)) }
    precondition(found.count == 1, "\(sql) is \(found)")
    return found[0]
}

private func text(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

private func statement(_ number: Int) -> ClientPreparedStatement {
    ClientPreparedStatement(number: number, parse: ByteBuffer(string: "P\(number)"))
}

@Suite struct TransactionPoolingSessionTests {
    @Test func setsFollowTheClientAndReachTheServerSide() {
        var session = TransactionPoolingSession()
        var server = ServerSessionState(statementCapacity: 8)
        let outcome = session.apply(command("SET search_path TO app"), server: &server, singleStatement: true)
        #expect(outcome == .init())
        #expect(session.desiredSettings.statements["search_path"] != nil)
        #expect(server.appliedSettings == session.desiredSettings)
        // The next server connection is brought to the client's settings before its first message.
        var fresh = ServerSessionState(statementCapacity: 8)
        let plan = fresh.leasePlan(for: session.desiredSettings)
        #expect(plan.contains { $0.contains("search_path") })
        _ = session.apply(command("RESET search_path"), server: &server, singleStatement: true)
        #expect(session.desiredSettings.statements["search_path"] == nil)
    }

    @Test func deallocateOfTheClientsStatementTargetsTheProxysName() {
        var session = TransactionPoolingSession()
        session.preparedStatements["q"] = statement(7)
        var server = ServerSessionState(statementCapacity: 8)
        server.statements.use(7)
        let outcome = session.apply(command("DEALLOCATE q"), server: &server, singleStatement: true)
        #expect(text(outcome.replacementText) == "DEALLOCATE __sp_7")
        #expect(session.preparedStatements["q"] == nil)
    }

    @Test func deallocateOfAStatementThisServerLacksDeallocatesAll() {
        var session = TransactionPoolingSession()
        session.preparedStatements["q"] = statement(7)
        var server = ServerSessionState(statementCapacity: 8)
        let outcome = session.apply(command("DEALLOCATE q"), server: &server, singleStatement: true)
        #expect(text(outcome.replacementText) == "DEALLOCATE ALL")
    }

    @Test func aClientCannotNameTheProxysStatements() {
        var session = TransactionPoolingSession()
        var server = ServerSessionState(statementCapacity: 8)
        let outcome = session.apply(command("DEALLOCATE __sp_3"), server: &server, singleStatement: true)
        #expect(text(outcome.replacementText) == "DEALLOCATE \"__spc__sp_3\"")
        // Inside several statements nothing can be replaced: it goes on, and the server side notes it.
        let inside = session.apply(command("DEALLOCATE plain"), server: &server, singleStatement: false)
        #expect(inside.replacementText == nil)
    }

    @Test func listenGoesToTheListenerConnectionAndAStandInToTheServer() {
        var session = TransactionPoolingSession()
        var server = ServerSessionState(statementCapacity: 8)
        // UNLISTEN before any LISTEN has nothing to tell the listener connection.
        let early = session.apply(command("UNLISTEN news"), server: &server, singleStatement: true)
        #expect(early.notifications == nil)
        let outcome = session.apply(command("LISTEN news"), server: &server, singleStatement: true)
        #expect(outcome.notifications == .listen(channel: "news"))
        #expect(outcome.replacementText == TransactionPoolingSession.listenStandIn)
        #expect(session.listensForNotifications)
        #expect(server.mayListen)
        let unlisten = session.apply(command("UNLISTEN news"), server: &server, singleStatement: true)
        #expect(unlisten.notifications == .unlisten(channel: "news"))
        let unlistenAll = session.apply(command("UNLISTEN *"), server: &server, singleStatement: true)
        #expect(unlistenAll.notifications == .unlistenAll)
        session.preparedStatements["q"] = statement(1)
        let discard = session.apply(command("DISCARD ALL"), server: &server, singleStatement: true)
        #expect(discard.notifications == .unlistenAll)
        #expect(session.preparedStatements.isEmpty)
    }

    @Test func aFailedParseForgetsOnlyTheStatementItWasFor() {
        var session = TransactionPoolingSession()
        session.preparedStatements["q"] = statement(2)
        session.preparedStatementFailed("q", number: 1)  // an older Parse of that name
        #expect(session.preparedStatements["q"] != nil)
        session.preparedStatementFailed("q", number: 2)
        #expect(session.preparedStatements["q"] == nil)
    }

    @Test func theUnnamedStatementIsKeptInStorageOfItsOwn() {
        var session = TransactionPoolingSession()
        var read = ByteBuffer(string: "xxPARSE-1yy")
        let slice = read.getSlice(at: 2, length: 7)!
        session.remember(unnamed: slice, effects: [])
        read.setString("zzzzzzz", at: 2)
        #expect(session.unnamedStatement == ByteBuffer(string: "PARSE-1"))
        #expect(session.unnamedStatementOnServer)
        session.leaseEnded()
        #expect(!session.unnamedStatementOnServer)
    }

    @Test func aSnapshotRestoresStatementsAndSettings() {
        var session = TransactionPoolingSession()
        var server = ServerSessionState(statementCapacity: 8)
        session.preparedStatements["a"] = statement(1)
        let before = session.snapshot
        session.preparedStatements["b"] = statement(2)
        _ = session.apply(command("SET work_mem = '64MB'"), server: &server, singleStatement: true)
        session.restore(before)
        #expect(session.preparedStatements.keys.sorted() == ["a"])
        #expect(session.desiredSettings.statements["work_mem"] == nil)
    }
}

@Suite struct ReplayLogTests {
    @Test func replaysWhatWasLoggedThenWhatIsUnread() {
        var log = ReplayLog(session: TransactionPoolingSession().snapshot, tracker: TransactionTracker())
        let kept = log.append(ByteBuffer(string: "one")) && log.append(ByteBuffer(string: "two"))
        #expect(kept)
        #expect(log.size == 6)
        let again = log.bytesToReplay(followedBy: ByteBuffer(string: "three"))
        #expect(String(buffer: again) == "onetwothree")
        #expect(log.emptied.size == 0)
    }

    @Test func givesUpPastItsBound() {
        var log = ReplayLog(session: TransactionPoolingSession().snapshot, tracker: TransactionTracker())
        let atBound = log.append(ByteBuffer(repeating: 1, count: ReplayLog.maximumSize))
        let pastBound = log.append(ByteBuffer(repeating: 1, count: 1))
        #expect(atBound && !pastBound)
    }

    @Test func keepsTheTransactionStateItStartedFrom() {
        var tracker = TransactionTracker()
        tracker.clientSent(FrontendMessageID.query)
        var log = ReplayLog(session: TransactionPoolingSession().snapshot, tracker: tracker)
        log.retriedStalePlan = true
        #expect(log.tracker.pendingSyncPoints == 1)
        #expect(log.emptied.retriedStalePlan)
    }
}

@Suite struct ReplayBufferPoolTests {
    @Test func aLogsBufferIsReusedWithoutAllocating() {
        var pool = ReplayBufferPool()
        // As the relay does it: a log while the first reply is awaited, its buffer given back when it ends.
        var replay: ReplayLog? = ReplayLog(session: TransactionPoolingSession().snapshot, tracker: TransactionTracker(),
                                           storage: pool.take())
        _ = replay!.append(ByteBuffer(string: "SELECT 1"))
        let first = replay!.storage.withUnsafeReadableBytes { UnsafeRawPointer($0.baseAddress) }
        if let log = replay {
            replay = nil
            pool.giveBack(log.storage)
        }
        replay = ReplayLog(session: TransactionPoolingSession().snapshot, tracker: TransactionTracker(), storage: pool.take())
        #expect(replay!.size == 0)
        _ = replay!.append(ByteBuffer(string: "SELECT 2"))
        // The same storage: the second log copied into the buffer the first one gave back.
        let second = replay!.storage.withUnsafeReadableBytes { UnsafeRawPointer($0.baseAddress) }
        #expect(second == first)
        #expect(String(buffer: replay!.bytesToReplay(followedBy: nil)) == "SELECT 2")
    }

    @Test func keepsABoundedNumberOfSmallBuffers() {
        var pool = ReplayBufferPool()
        var big = ByteBuffer()
        big.reserveCapacity(ReplayBufferPool.maximumKeptCapacity + 1)
        pool.giveBack(big)
        #expect(pool.count == 0)
        for _ in 0..<(ReplayBufferPool.maximumKept + 10) {
            var small = ByteBuffer()
            small.reserveCapacity(64)
            pool.giveBack(small)
        }
        #expect(pool.count == ReplayBufferPool.maximumKept)
    }

    @Test func theLogCopiesSoTheReadBufferIsNotKept() {
        var read = ByteBuffer(string: "QSELECT 1")
        var log = ReplayLog(session: TransactionPoolingSession().snapshot, tracker: TransactionTracker())
        _ = log.append(read.getSlice(at: 0, length: 9)!)
        read.setString("XXXXXXXXX", at: 0)
        #expect(String(buffer: log.bytesToReplay(followedBy: nil)) == "QSELECT 1")
    }
}
