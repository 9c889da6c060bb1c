import ProxyConfig
import Testing
@testable import CatalogTools

private func request(_ code: UInt32, extra: [UInt8] = []) -> [UInt8] {
    let length = UInt32(8 + extra.count)
    return [UInt8(ascii: "R")] + withUnsafeBytes(of: length.bigEndian, Array.init)
        + withUnsafeBytes(of: code.bigEndian, Array.init) + extra
}

private let parameterStatus: [UInt8] = [UInt8(ascii: "S"), 0, 0, 0, 8, 0x61, 0, 0x62, 0]

/// require_auth for the catalog tools' libpq logins (libpq 15 does not know it), checked on the server's bytes.
@Suite struct AuthenticationRequestCheckTests {
    private func check(_ text: String) throws -> AuthenticationRequestCheck {
        AuthenticationRequestCheck(required: try RequiredAuthentication(parsing: text))
    }

    @Test func scramOnlyRefusesWeakerRequests() throws {
        var md5 = try check("scram-sha-256")
        #expect(md5.inspect(request(5, extra: [1, 2, 3, 4]))
                == .refused("require_auth=scram-sha-256: the server asked for an md5 password (md5)"))
        var cleartext = try check("scram-sha-256")
        guard case .refused = cleartext.inspect(request(3)) else { Issue.record("cleartext allowed"); return }
        var none = try check("scram-sha-256")
        guard case .refused(let why) = none.inspect(request(0) + parameterStatus) else {
            Issue.record("no authentication allowed")
            return
        }
        #expect(why.contains("(none)"))
    }

    @Test func anAllowedExchangeEndsWithAuthenticationOk() throws {
        var scram = try check("scram-sha-256")
        #expect(scram.inspect(request(10, extra: Array("SCRAM-SHA-256".utf8) + [0, 0])) == .allowed)
        #expect(scram.inspect(request(11, extra: [1, 2])) == .allowed)
        #expect(scram.inspect(request(12, extra: [3]) + request(0) + parameterStatus) == .allowed)
    }

    @Test func aNewConnectionAttemptMustAskAgain() throws {
        // The first host ran SCRAM (and was then dropped, e.g. by target_session_attrs); the next one sends
        // AuthenticationOk at once: that is no authentication, which scram-sha-256 refuses.
        var sm = try check("scram-sha-256")
        #expect(sm.inspect(request(10, extra: Array("SCRAM-SHA-256".utf8) + [0, 0])) == .allowed)
        sm.connectionRestarted()
        guard case .refused(let why) = sm.inspect(request(0) + parameterStatus) else {
            Issue.record("a bare AuthenticationOk on the next attempt was allowed")
            return
        }
        #expect(why.contains("(none)"))
    }

    @Test func everyRequestInTheBytesIsJudged() throws {
        // a SASL request with a cleartext request pipelined behind it
        var sm = try check("scram-sha-256")
        guard case .refused = sm.inspect(request(10, extra: [0]) + request(3)) else {
            Issue.record("the second request must be judged too")
            return
        }
    }

    @Test func aCutRequestWaitsForItsCode() throws {
        var sm = try check("!password")
        #expect(sm.inspect(Array(request(3).prefix(6))) == .needMoreBytes)
        #expect(sm.inspect([UInt8(ascii: "R"), 0]) == .needMoreBytes)
        guard case .refused = sm.inspect(request(3)) else { Issue.record("password allowed"); return }
    }

    @Test func negatedListsAndOtherMessages() throws {
        var sm = try check("!password,!md5")
        #expect(sm.inspect(parameterStatus) == .allowed)
        #expect(sm.inspect(request(0)) == .allowed)  // none is not excluded
    }

    @Test func proxyOnlyParametersAreTakenFromURLs() {
        var url = "postgresql://u:p@h:5432/db?sslmode=require&require_auth=%21md5&application_name=x"
        #expect(CatalogConnection.takeQueryParameter("require_auth", from: &url) == "!md5")
        #expect(url == "postgresql://u:p@h:5432/db?sslmode=require&application_name=x")
        var only = "postgresql://u@h/db?sslnegotiation=postgres"
        #expect(CatalogConnection.takeQueryParameter("sslnegotiation", from: &only) == "postgres")
        #expect(only == "postgresql://u@h/db")
        var conninfo = "host=h require_auth = md5 dbname=d"
        #expect(CatalogConnection.takeQueryParameter("require_auth", from: &conninfo) == "md5")
        #expect(conninfo == "host=h  dbname=d")
        var quoted = "require_auth='!password,!md5' host=h"
        #expect(CatalogConnection.takeQueryParameter("require_auth", from: &quoted) == "!password,!md5")
        #expect(quoted == " host=h")
        var absent = "host=h my_require_auth=x"
        #expect(CatalogConnection.takeQueryParameter("require_auth", from: &absent) == nil)
    }
}
