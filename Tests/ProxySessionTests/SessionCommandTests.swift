import Testing
@testable import ProxySession

private func commands(_ sql: String) -> [SessionCommand] {
    var sql = sql
    return sql.withUTF8 { SessionCommand.find(in: UnsafeRawBufferPointer($0)) }
}

@Suite struct SessionCommandTests {
    @Test(arguments: [
        "SELECT 1", "select * from settings", "INSERT INTO sets VALUES ('SET x = 1')", "UPDATE t SET a = 1",
        "-- SET x = 1\nSELECT 1", "/* LISTEN x */ SELECT 1", "SET LOCAL statement_timeout = 5", "SET TRANSACTION READ ONLY",
        "SET CONSTRAINTS ALL DEFERRED", "PREPARE TRANSACTION 'x'", "DECLARE c CURSOR FOR SELECT 1", "SELECT pg_advisory_xact_lock(1)",
        "DISCARD PLANS", "", "   ", "reset", "SELECT 'a;b'; SELECT $$;LISTEN$$",
    ])
    func statementsThatAreNotSessionCommands(_ sql: String) {
        #expect(commands(sql) == [])
    }

    @Test func settings() {
        #expect(commands("SET statement_timeout = '5s'") == [.set(name: "statement_timeout", statement: "SET statement_timeout = '5s'")])
        #expect(commands("set Session \"TimeZone\" to 'UTC';") == [.set(name: "TimeZone", statement: "set Session \"TimeZone\" to 'UTC'")])
        #expect(commands("SET TIME ZONE 'Asia/Seoul'") == [.set(name: "timezone", statement: "SET TIME ZONE 'Asia/Seoul'")])
        #expect(commands("SET search_path TO a, b") == [.set(name: "search_path", statement: "SET search_path TO a, b")])
        #expect(commands("SET SCHEMA 'x'") == [.set(name: "search_path", statement: "SET SCHEMA 'x'")])
        #expect(commands("SET NAMES 'LATIN1'") == [.set(name: "client_encoding", statement: "SET NAMES 'LATIN1'")])
        #expect(commands("SET myapp.user_id = 42") == [.set(name: "myapp.user_id", statement: "SET myapp.user_id = 42")])
        #expect(commands("SET SESSION AUTHORIZATION bob").first == .set(name: "session_authorization", statement: "SET SESSION AUTHORIZATION bob"))
        #expect(commands("RESET statement_timeout") == [.reset(name: "statement_timeout")])
        #expect(commands("RESET TIME ZONE") == [.reset(name: "timezone")])
        #expect(commands("reset all") == [.resetAll])
    }

    @Test func preparedStatementsAndDiscard() {
        #expect(commands("DEALLOCATE ALL") == [.deallocateAll])
        #expect(commands("deallocate prepare all;") == [.deallocateAll])
        #expect(commands("DEALLOCATE _pg3_7") == [.deallocate(name: "_pg3_7")])
        #expect(commands("DEALLOCATE PREPARE \"Mixed\"") == [.deallocate(name: "Mixed")])
        #expect(commands("DISCARD ALL") == [.discardAll])
    }

    @Test func sessionOnlyFeatures() {
        #expect(commands("LISTEN jobs") == [.listen(channel: "jobs")])
        #expect(commands("listen \"Mixed\"") == [.listen(channel: "Mixed")])
        #expect(commands("UNLISTEN jobs") == [.unlisten(channel: "jobs")])
        #expect(commands("UNLISTEN *") == [.unlistenAll])
        #expect(commands("PREPARE q AS SELECT 1").count == 1)
        #expect(commands("DECLARE c BINARY NO SCROLL CURSOR WITH HOLD FOR SELECT 1") == [.sessionOnly(what: "cursors WITH HOLD")])
        #expect(commands("SELECT pg_advisory_lock(1)").count == 1)
        #expect(commands("select PG_TRY_ADVISORY_LOCK(1, 2)").count == 1)
        #expect(commands("SELECT pg_advisory_lock_shared(1)").count == 1)
    }

    @Test func aTrailingTerminatorIsNotASecondStatement() {
        #expect(commands("SET a.b = 1;  \n") == [.set(name: "a.b", statement: "SET a.b = 1")])
        #expect(commands("SET a.b = 'x;y';") == [.set(name: "a.b", statement: "SET a.b = 'x;y'")])
        #expect(commands("SELECT abalance FROM pgbench_accounts WHERE aid = 5;") == [])
    }

    @Test func everyStatementOfAMultiStatementString() {
        #expect(commands("SET a.b = 1; SELECT ';'; RESET c; LISTEN x") == [
            .set(name: "a.b", statement: "SET a.b = 1"), .reset(name: "c"), .listen(channel: "x"),
        ])
        #expect(commands("SELECT $tag$ ; SET x = 1 $tag$; DISCARD ALL") == [.discardAll])
        #expect(commands("SELECT E'\\'; SET x = 1'; DEALLOCATE ALL") == [.deallocateAll])
        #expect(commands("SELECT 1 /* ; /* nested */ SET x = 1 */; RESET ALL") == [.resetAll])
    }
}

@Suite struct SessionSettingsTests {
    @Test func startupParametersBecomeSetConfigCallsExceptTheLoginAndEqualValues() {
        let settings = SessionSettings(
            startupParameters: [
                ("user", "app"), ("database", "svc"), ("application_name", "pgbench"), ("client_encoding", "utf-8"),
                ("options", "-c statement_timeout=1234 --work-mem=8MB -c search_path=a,\\ b"),
            ],
            serverReported: ["client_encoding": "UTF8", "application_name": "schemaproxy"]
        )
        #expect(settings.statements == [
            "application_name": "SELECT pg_catalog.set_config(E'application_name', E'pgbench', false)",
            "statement_timeout": "SELECT pg_catalog.set_config(E'statement_timeout', E'1234', false)",
            "work_mem": "SELECT pg_catalog.set_config(E'work_mem', E'8MB', false)",
            "search_path": "SELECT pg_catalog.set_config(E'search_path', E'a, b', false)",
        ])
    }

    @Test func valuesAreQuotedSafely() {
        let settings = SessionSettings(startupParameters: [("application_name", "it's \\ mine")], serverReported: [:])
        #expect(settings.statements["application_name"] == "SELECT pg_catalog.set_config(E'application_name', E'it''s \\\\ mine', false)")
    }

    @Test func statementsFromOneClientsSettingsToAnothers() {
        var a = SessionSettings()
        a.set("timezone", statement: "SET TIME ZONE 'UTC'")
        a.set("work_mem", statement: "SET work_mem = '8MB'")
        var b = SessionSettings()
        b.set("work_mem", statement: "SET work_mem = '16MB'")
        b.set("application_name", statement: "SELECT 1")
        #expect(b.statements(from: a) == ["RESET \"timezone\"", "SELECT 1", "SET work_mem = '16MB'"])
        #expect(a.statements(from: a) == [])
        #expect(SessionSettings().statements(from: a) == ["RESET \"timezone\"", "RESET \"work_mem\""])
    }

    @Test func equalityFollowsTheStatementsWhateverTheIdentity() {
        var a = SessionSettings()
        a.set("work_mem", statement: "SET work_mem = '8MB'")
        var b = SessionSettings()
        b.set("work_mem", statement: "SET work_mem = '8MB'")
        #expect(a == b)  // made apart, equal content
        var copy = a
        #expect(copy == a)
        copy.set("work_mem", statement: "SET work_mem = '16MB'")
        #expect(copy != a)  // a change is seen although the copy started with a's identity
        copy.set("work_mem", statement: "SET work_mem = '8MB'")
        #expect(copy == a)
        copy.remove("work_mem")
        #expect(copy == SessionSettings())
        #expect(copy != a)
        let fromStartup = SessionSettings(startupParameters: [("statement_timeout", "1234ms")], serverReported: [:])
        #expect(fromStartup != SessionSettings())
        #expect(SessionSettings(startupParameters: [], serverReported: [:]) == SessionSettings())
    }

    @Test func clientsWithTheSameStartupSettingsShareOneValue() {
        var registry: [[String: String]: SessionSettings] = [:]
        let first = SessionSettings(startupParameters: [("application_name", "pgbench")], serverReported: [:])
        let second = SessionSettings(startupParameters: [("application_name", "pgbench")], serverReported: [:])
        let other = SessionSettings(startupParameters: [("application_name", "psql")], serverReported: [:])
        let canonicalFirst = first.canonical(in: &registry)
        #expect(second.canonical(in: &registry) == canonicalFirst)
        #expect(other.canonical(in: &registry) != canonicalFirst)
        #expect(registry.count == 2)
        // A full registry adds nothing more; the value is used as it is.
        let third = SessionSettings(startupParameters: [("application_name", "x")], serverReported: [:])
        #expect(third.canonical(in: &registry, limit: 2) == third)
        #expect(registry.count == 2)
    }
}

@Suite struct ServerStatementCacheTests {
    @Test func evictsTheLeastRecentlyUsedBeyondCapacity() {
        var cache = ServerStatementCache(capacity: 2)
        cache.use(1); cache.use(2); cache.use(1); cache.use(3)
        #expect(cache.evictOverflow() == [2])
        #expect(cache.contains(1) && cache.contains(3) && !cache.contains(2))
        #expect(cache.evictOverflow() == [])
    }
}
