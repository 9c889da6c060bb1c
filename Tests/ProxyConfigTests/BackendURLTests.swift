import Testing
@testable import ProxyConfig

@Suite struct BackendURLTests {
    @Test func multiHostWithPortsAndAttrs() throws {
        let url = try BackendURL(
            parsing: "postgresql://heal7_app:pw@db1:5432,db2:5433,db3/heal7?target_session_attrs=prefer-standby"
                + "&application_name=schemaproxy&options=-c%20statement_timeout%3D5s"
        )
        #expect(url.hosts == [HostAndPort(host: "db1", port: 5432), HostAndPort(host: "db2", port: 5433),
                              HostAndPort(host: "db3", port: 5432)])
        #expect(url.user == "heal7_app")
        #expect(url.password == "pw")
        #expect(url.database == "heal7")
        #expect(url.targetSessionAttrs == .preferStandby)
        #expect(url.parameters == ["application_name": "schemaproxy", "options": "-c statement_timeout=5s"])
    }

    @Test func ipv6Hosts() throws {
        let url = try BackendURL(parsing: "postgres://u@[::1]:6000,[2001:db8::5]/db")
        #expect(url.hosts == [HostAndPort(host: "::1", port: 6000), HostAndPort(host: "2001:db8::5", port: 5432)])
        #expect(url.hosts.map(\.description) == ["[::1]:6000", "[2001:db8::5]:5432"])
        #expect(throws: ConfigError.self) { try BackendURL(parsing: "postgresql://u@[::1/db") }
        #expect(throws: ConfigError.self) { try BackendURL(parsing: "postgresql://u@[nothex]:5432/db") }
    }

    @Test func percentEncodedCredentials() throws {
        let url = try BackendURL(parsing: "postgresql://us%40er:p%40ss%3Aw%2Frd%25%20x@h/my%20db")
        #expect(url.user == "us@er")
        #expect(url.password == "p@ss:w/rd% x")
        #expect(url.database == "my db")
        let unicode = try BackendURL(parsing: "postgresql://u:%ED%95%9C%EA%B8%80@h/db")
        #expect(unicode.password == "한글")
    }

    @Test func rawSpecialCharactersInPassword() throws {
        // What ${DB_PASSWORD} may put there: the user part ends at the last '@'; a stray '%' stays.
        let url = try BackendURL(parsing: "postgresql://u:p@ss:w/r?d%zz100%@127.0.0.1:5433/heal7")
        #expect(url.password == "p@ss:w/r?d%zz100%")
        #expect(url.hosts == [HostAndPort(host: "127.0.0.1", port: 5433)])
        #expect(url.database == "heal7")
    }

    @Test func defaults() throws {
        let url = try BackendURL(parsing: "postgresql://alice@localhost")
        #expect(url.password == nil)
        #expect(url.database == "alice")
        #expect(url.targetSessionAttrs == .any)
        #expect(url.parameters.isEmpty)
        #expect(try BackendURL(parsing: "postgresql://alice:@localhost/").password == "")
    }

    @Test(arguments: TargetSessionAttrs.allCases)
    func everyTargetSessionAttrs(_ attrs: TargetSessionAttrs) throws {
        let url = try BackendURL(parsing: "postgresql://u@h/db?target_session_attrs=\(attrs.rawValue)")
        #expect(url.targetSessionAttrs == attrs)
    }

    @Test(arguments: [
        "http://u@h/db", "postgresql://h/db", "postgresql://@h/db", "postgresql://u@/db", "postgresql://u@h,/db",
        "postgresql://u@h:0/db", "postgresql://u@h:port/db", "postgresql://u@h/db?target_session_attrs=master",
        "postgresql://u@h/db?a=1&a=2", "postgresql://u@h/db?=x", "postgresql://u@h h/db",
    ])
    func rejectsMalformed(_ text: String) {
        #expect(throws: ConfigError.self) { try BackendURL(parsing: text) }
    }

    @Test func descriptionHidesPassword() throws {
        let url = try BackendURL(parsing: "postgresql://u:s3cr%40t@h:5433/d%20b?application_name=a%26b")
        #expect(url.description == "postgresql://u:********@h:5433/d%20b?application_name=a%26b")
        #expect(url.urlString(password: url.password) == "postgresql://u:s3cr%40t@h:5433/d%20b?application_name=a%26b")
        #expect(try BackendURL(parsing: url.urlString(password: url.password)) == url)
    }
}

@Suite struct HostAndPortTests {
    @Test func parsesForms() throws {
        #expect(try HostAndPort(parsing: "127.0.0.1:6432") == HostAndPort(host: "127.0.0.1", port: 6432))
        #expect(try HostAndPort(parsing: "[::1]:6432") == HostAndPort(host: "::1", port: 6432))
        #expect(try HostAndPort(parsing: "db.example.org", defaultPort: 5432) == HostAndPort(host: "db.example.org",
                                                                                              port: 5432))
        #expect(try HostAndPort(parsing: "0.0.0.0:0", allowPortZero: true).port == 0)
        #expect(throws: ConfigError.self) { try HostAndPort(parsing: "0.0.0.0:0") }
        #expect(throws: ConfigError.self) { try HostAndPort(parsing: "h:65536") }
        #expect(throws: ConfigError.self) { try HostAndPort(parsing: "h:") }
        #expect(throws: ConfigError.self) { try HostAndPort(parsing: ":5432") }
        #expect(throws: ConfigError.self) { try HostAndPort(parsing: "[::1]x") }
    }
}
