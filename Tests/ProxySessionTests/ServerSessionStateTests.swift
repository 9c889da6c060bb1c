import PostgresWire
import Testing
@testable import ProxySession

private func commands(_ sql: String) -> [SessionCommand] {
    var sql = sql
    return sql.withUTF8 { SessionCommand.find(in: UnsafeRawBufferPointer($0)) }
}

private func settings(_ pairs: [String: String]) -> SessionSettings {
    var settings = SessionSettings()
    for (name, statement) in pairs { settings.set(name, statement: statement) }
    return settings
}

@Suite struct SessionChangesTheProxyCannotFollowTests {
    @Test func setConfigWithConstantsIsASet() {
        let expected = SessionCommand.set(name: "default_transaction_read_only",
                                          statement: SessionSettings.setConfig("default_transaction_read_only", "on"))
        #expect(commands("SELECT set_config('default_transaction_read_only', 'on', false)") == [expected])
        #expect(commands("select PG_CATALOG.SET_CONFIG('Default_Transaction_Read_Only','on',FALSE);") == [expected])
        #expect(commands("SELECT set_config('a.b', 'it''s', false)")
            == [.set(name: "a.b", statement: SessionSettings.setConfig("a.b", "it's"))])
    }

    @Test func transactionScopedSetConfigIsNothing() {
        #expect(commands("SELECT set_config('a.b', 'x', true)") == [])
    }

    @Test(arguments: [
        "SELECT set_config('default_transaction_read_only', lower('ON'), false)",
        "SELECT set_config($1, $2, false)",
        "SELECT set_config('a.b', 'x', $1)",
        "SELECT set_config(E'a.b', 'x', false)",
        "SELECT set_config('a.b', 'x\\\\y', false)",
        "SELECT name, set_config(name, 'x', false) FROM t",
    ])
    func otherSetConfigsAreUnmodelled(_ sql: String) {
        #expect(commands(sql) == [.unmodelled(what: "set_config with arguments other than constants")])
    }

    @Test func doAndCallAreUnmodelled() {
        #expect(commands("DO $$BEGIN NULL; END$$") == [.unmodelled(what: "DO")])
        #expect(commands("CALL p()") == [.unmodelled(what: "CALL")])
    }

    @Test(arguments: ["SELECT my_set_config(1)", "SELECT reset_config", "SELECT 1 AS offset_configs"])
    func namesThatMerelyEndLikeSetConfigAreNothing(_ sql: String) {
        #expect(commands(sql) == [])
    }
}

@Suite struct ServerStatementCacheUncertaintyTests {
    @Test func aDeallocationThatMayHaveRunMakesStatementsUncertainUntilSettled() {
        var cache = ServerStatementCache(capacity: 10)
        cache.use(1)
        cache.use(2)
        cache.mayHaveLostAll()
        #expect(!cache.contains(1) && !cache.contains(2))
        #expect(cache.needsCloseBeforeParse(1) && cache.needsCloseBeforeParse(2))
        cache.use(1)  // re-created (after a Close): certain again
        #expect(cache.contains(1) && !cache.needsCloseBeforeParse(1))
        let result1 = cache.settleUncertain()
        #expect(result1 == [2])
        #expect(cache.uncertain.isEmpty && cache.contains(1))
    }

    @Test func manyUncertainAreSettledWithDeallocateAll() {
        var cache = ServerStatementCache(capacity: 10)
        for n in 1...6 { cache.use(n) }
        cache.mayHaveLostAll()
        cache.use(7)
        let result2 = cache.settleUncertain(namingAtMost: 4)
        #expect(result2 == nil)
        #expect(cache.count == 0 && cache.uncertain.isEmpty)
    }
}

@Suite struct ServerSessionStateTests {
    let readOnly = SessionSettings.setConfig("default_transaction_read_only", "on")

    @Test func nothingToDoWhenNothingChanged() {
        var state = ServerSessionState(statementCapacity: 10)
        let desired = SessionSettings()
        let result3 = state.leasePlan(for: desired)
        #expect(result3 == [])
        state.statements.use(3)
        let result4 = state.leasePlan(for: desired)
        #expect(result4 == [])
    }

    @Test func trackedSettingsMoveByDifference() {
        var state = ServerSessionState(statementCapacity: 10)
        for command in commands("SELECT set_config('default_transaction_read_only', 'on', false)") { state.sent(command) }
        let result5 = state.leasePlan(for: SessionSettings())
        #expect(result5 == ["RESET \"default_transaction_read_only\""])
        let result6 = state.leasePlan(for: SessionSettings())
        #expect(result6 == [])
    }

    @Test func anUnmodelledChangeResetsAndReplaysTheNextClientsSettings() {
        var state = ServerSessionState(statementCapacity: 10)
        let next = settings(["application_name": SessionSettings.setConfig("application_name", "b")])
        _ = state.leasePlan(for: next)
        for command in commands("SELECT set_config('work_mem', current_setting('work_mem'), false)") { state.sent(command) }
        #expect(state.settingsDirty)
        let result7 = state.leasePlan(for: next)
        #expect(result7 == [ServerSessionState.fullReset, SessionSettings.setConfig("application_name", "b")])
        #expect(!state.settingsDirty)
        let result8 = state.leasePlan(for: next)
        #expect(result8 == [])
    }

    @Test func aChangeTheServerReportsMarksDirty() {
        var state = ServerSessionState(statementCapacity: 10)
        state.markSettingsDirty()
        let result9 = state.leasePlan(for: SessionSettings())
        #expect(result9 == [ServerSessionState.fullReset])
    }

    @Test func sessionCharacteristicsAreUndoneByAFullReset() {
        var state = ServerSessionState(statementCapacity: 10)
        let characteristics = commands("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        var owner = SessionSettings()
        for command in characteristics {
            state.sent(command)
            owner.apply(command, startup: SessionSettings())
        }
        // The same client again: nothing to do; another client: a full reset, not `RESET session_characteristics`.
        let result10 = state.leasePlan(for: owner)
        #expect(result10 == [])
        let result11 = state.leasePlan(for: SessionSettings())
        #expect(result11 == [ServerSessionState.fullReset])
        // Back to the client that set it: replayed.
        let result12 = state.leasePlan(for: owner)
        #expect(result12 == ["SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"])
    }

    @Test func deallocationsBecomeUncertainAndAreSettledAtTheNextLease() {
        var state = ServerSessionState(statementCapacity: 10)
        state.statements.use(4)
        state.statements.use(5)
        state.sent(.deallocate(name: "__sp_4"))
        #expect(state.statements.needsCloseBeforeParse(4) && state.statements.contains(5))
        let result13 = state.leasePlan(for: SessionSettings())
        #expect(result13 == ["DEALLOCATE __sp_4"])
        state.sent(.discardAll)
        let result14 = state.leasePlan(for: SessionSettings())
        #expect(result14 == ["DEALLOCATE __sp_5", ServerSessionState.fullReset])
    }

    @Test func standInsUnderClientNamesGoAtTheNextLease() {
        var state = ServerSessionState(statementCapacity: 10)
        state.leftStandIn(named: ProxyStatementName.escapedClientName("__sp_1"))
        let result15 = state.leasePlan(for: SessionSettings())
        #expect(result15 == ["DEALLOCATE \"__spc__sp_1\""])
    }

    @Test func resetAllKeepsTheRole() {
        var state = ServerSessionState(statementCapacity: 10)
        state.sent(.set(name: "role", statement: "SET ROLE r"))
        state.sent(.set(name: "work_mem", statement: "SET work_mem = '8MB'"))
        state.sent(.resetAll)
        #expect(state.appliedSettings.statements == ["role": "SET ROLE r"])
    }
}

@Suite struct ProxyStatementNameTests {
    @Test func clientNamesNeverLookLikeTheProxys() {
        for name in ["__sp_1", "__sp_0", "__sp", "__spc__sp_1", "__sp_1x"] {
            let escaped = ProxyStatementName.escapedClientName(name)
            #expect(ProxyStatementName.number(of: escaped) == nil)
            #expect(escaped != ProxyStatementName.absentName)
        }
        #expect(ProxyStatementName.escapedClientName("__sp_1") != ProxyStatementName.escapedClientName("__spc__sp_1"))
        #expect(ProxyStatementName.escapedClientName("_pg3_1") == "_pg3_1")
        #expect(ProxyStatementName.number(of: "__sp_12") == 12)
        #expect(ProxyStatementName.number(of: "__sp_012") == nil)
    }
}

@Suite struct OwnCloseTests {
    @Test func aCloseBeforeAReParseIsDropped() {
        var filter = ResponseFilter()
        filter.expect(.ownClose(ordinal: 0), clientPendingSyncPoints: 0)
        filter.expect(.parse(statement: 3, clientName: nil, ordinal: 0), clientPendingSyncPoints: 0)
        let ids = [BackendMessageID.closeComplete, BackendMessageID.parseComplete, BackendMessageID.bindComplete,
                   BackendMessageID.commandComplete, BackendMessageID.readyForQuery]
        let dispositions = ids.map { filter.received($0) }
        #expect(dispositions == [.drop, .drop, .forward, .forward, .forward])
        #expect(filter.takeFailures().isEmpty)
    }

    @Test func answeringOwnQueryIsKnownBeforeTheMessage() {
        var filter = ResponseFilter()
        filter.expect(.ownQuery, clientPendingSyncPoints: 0)
        #expect(filter.answeringOwnQuery)
        _ = filter.received(BackendMessageID.parameterStatus)
        _ = filter.received(BackendMessageID.readyForQuery)
        #expect(!filter.answeringOwnQuery)
    }
}

@Suite struct CancelHoldTests {
    @Test func aReleaseWaitsForTheCancelsInFlight() {
        var hold = CancelHold()
        let atOnce = hold.releaseRequested(reusable: true)
        #expect(!atOnce)  // nothing in flight: released at once
        hold.cancelStarted()
        hold.cancelStarted()
        let result16 = hold.releaseRequested(reusable: true)
        #expect(result16)
        let result17 = hold.cancelFinished()
        #expect(result17 == nil)
        let result18 = hold.cancelFinished()
        #expect(result18 == true)
        #expect(hold == CancelHold())
    }

    @Test func aCancelThatEndsBeforeTheReleaseHoldsNothing() {
        var hold = CancelHold()
        hold.cancelStarted()
        let result19 = hold.cancelFinished()
        #expect(result19 == nil)
        let result20 = hold.releaseRequested(reusable: false)
        #expect(!result20)
    }

    @Test func anUnusableReleaseStaysUnusable() {
        var hold = CancelHold()
        hold.cancelStarted()
        let result21 = hold.releaseRequested(reusable: false)
        #expect(result21)
        let result22 = hold.cancelFinished()
        #expect(result22 == false)
    }
}

@Suite struct EncodingNamesTests {
    @Test func clientSpellingsBecomeTheServers() {
        #expect(EncodingNames.canonical("eucjp") == "EUC_JP")
        #expect(EncodingNames.canonical("EUC-JP") == "EUC_JP")
        #expect(EncodingNames.canonical("utf-8") == "UTF8")
        #expect(EncodingNames.canonical("Shift_JIS") == "SJIS")
        #expect(EncodingNames.canonical("iso-8859-1") == "LATIN1")
        #expect(EncodingNames.canonical("windows-1252") == "WIN1252")
        #expect(EncodingNames.canonical("klingon") == nil)
    }
}

@Suite struct NotificationSubscriptionsTests {
    @Test func theListenerHoldsTheUnionOfTheClientsChannels() {
        var subscriptions = NotificationSubscriptions<Int>()
        let first = subscriptions.listen(1, to: "jobs")
        let second = subscriptions.listen(2, to: "jobs")
        let again = subscriptions.listen(1, to: "jobs")
        #expect(first == "LISTEN \"jobs\"" && second == nil && again == nil)
        #expect(subscriptions.recipients(of: "jobs") == [1, 2])
        let stillHeld = subscriptions.unlisten(1, from: "jobs")
        #expect(stillHeld == nil)
        let notListening = subscriptions.unlisten(1, from: "jobs")
        #expect(notListening == nil)
        let last = subscriptions.unlisten(2, from: "jobs")
        #expect(last == "UNLISTEN \"jobs\"" && subscriptions.isEmpty)
    }

    @Test func unlistenAllLeavesOnlyOthersChannels() {
        var subscriptions = NotificationSubscriptions<Int>()
        _ = subscriptions.listen(1, to: "a")
        _ = subscriptions.listen(1, to: "B b")
        _ = subscriptions.listen(2, to: "a")
        let statements = subscriptions.unlistenAll(1)
        #expect(statements == ["UNLISTEN \"B b\""])
        #expect(subscriptions.channels == ["a"] && subscriptions.channels(of: 1).isEmpty)
    }

    @Test func aSharedConnectionThatRanAListenStandInUnlistensAtTheNextLease() {
        var state = ServerSessionState(statementCapacity: 10)
        state.sent(.listen(channel: "jobs"))
        let plan = state.leasePlan(for: SessionSettings())
        #expect(plan == ["UNLISTEN *"])
        let next = state.leasePlan(for: SessionSettings())
        #expect(next == [])
    }
}

@Suite struct ExecuteOfProxyNamesTests {
    @Test func sqlExecuteOfAProxyNameIsCaughtOthersAreNot() {
        #expect(commands("EXECUTE __sp_3(1)") == [.executeReserved(name: "__sp_3")])
        #expect(commands("execute \"__sp_3\"") == [.executeReserved(name: "__sp_3")])
        #expect(commands("EXECUTE mine(1)") == [])
    }
}

@Suite struct TemporaryObjectsTests {
    @Test(arguments: ["CREATE TEMP TABLE t (x int)", "create temporary table t AS SELECT 1", "CREATE LOCAL TEMP VIEW v AS SELECT 1",
                      "CREATE OR REPLACE TEMP VIEW v AS SELECT 1", "CREATE GLOBAL TEMPORARY TABLE t (x int)"])
    func temporaryObjectsAreNoticed(_ sql: String) {
        #expect(commands(sql) == [.createsTemporary])
    }

    @Test(arguments: ["CREATE TABLE temp (x int)", "CREATE INDEX temp_idx ON t (x)", "CREATE TABLE t (temp int)"])
    func otherCreatesAreNot(_ sql: String) {
        #expect(commands(sql) == [])
    }

    @Test func theNextLeaseDiscardsThem() {
        var state = ServerSessionState(statementCapacity: 10)
        state.sent(.createsTemporary)
        let plan = state.leasePlan(for: SessionSettings())
        #expect(plan == ["DISCARD TEMP"])
    }
}
