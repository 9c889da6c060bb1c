import PostgresWire
import ProxyAuth
import Testing
@testable import ProxySession

@Suite struct ClientStartupTLSTests {
    private func startup(_ user: String) -> StartupRequest {
        .startup(StartupMessage(minorVersion: 0, parameters: [(name: "user", value: user)], protocolOptions: []))
    }

    private func sqlState(_ actions: [ClientStartupStateMachine.Action]) -> String? {
        guard case .fail(let error)? = actions.last else { return nil }
        return error.sqlState
    }

    @Test func sslRequestIsAcceptedWhenTLSIsConfigured() {
        var sm = ClientStartupStateMachine(method: .trust, credentials: [:], encryption: .allow)
        #expect(sm.received(.sslRequest) == [.acceptEncryption])
        #expect(sm.isEncrypted)
        guard case .authenticated? = sm.received(startup("alice")).last else {
            Issue.record("expected a login")
            return
        }
    }

    @Test func allowLetsPlaintextClientsIn() {
        var sm = ClientStartupStateMachine(method: .trust, credentials: [:], encryption: .allow)
        guard case .authenticated? = sm.received(startup("alice")).last else {
            Issue.record("expected a login")
            return
        }
    }

    @Test func requireRefusesPlaintextWith28000BeforeAuthentication() {
        var sm = ClientStartupStateMachine(method: .trust, credentials: [:], encryption: .require)
        #expect(sqlState(sm.received(startup("alice"))) == "28000")
        // a GSS request is still refused with N, and does not count as TLS
        var gss = ClientStartupStateMachine(method: .trust, credentials: [:], encryption: .require)
        #expect(gss.received(.gssEncryptionRequest) == [.refuseEncryption])
        #expect(sqlState(gss.received(startup("alice"))) == "28000")
    }

    @Test func refuseAnswersN() {
        var sm = ClientStartupStateMachine(method: .trust, credentials: [:], encryption: .refuse)
        #expect(sm.received(.sslRequest) == [.refuseEncryption])
        #expect(!sm.isEncrypted)
    }

    @Test func certificateLoginNeedsTheCNToBeTheUser() {
        let credentials = ["app": UserCredential(stored: try! StoredCredential(parsing: "pw"))]
        var sm = ClientStartupStateMachine(method: .cert, credentials: credentials, encryption: .require)
        #expect(sm.received(.sslRequest) == [.acceptEncryption])
        sm.clientCertificateName = "app"
        guard case .authenticated(let user, _, _, _)? = sm.received(startup("app")).last else {
            Issue.record("expected a login")
            return
        }
        #expect(user == "app")

        var other = ClientStartupStateMachine(method: .cert, credentials: credentials, encryption: .require)
        _ = other.received(.sslRequest)
        other.clientCertificateName = "app"
        #expect(sqlState(other.received(startup("admin"))) == "28000")

        var none = ClientStartupStateMachine(method: .cert, credentials: credentials, encryption: .require)
        _ = none.received(.sslRequest)
        #expect(sqlState(none.received(startup("app"))) == "28000", "no certificate, no login")
    }

    @Test func directTLSNeedsConfiguredTLSAndALPN() {
        var refused = ClientStartupStateMachine(method: .trust, credentials: [:], encryption: .refuse)
        let refusedStarted = refused.directTLSStarted()
        #expect(!refusedStarted)
        var late = ClientStartupStateMachine(method: .trust, credentials: [:], encryption: .allow)
        _ = late.received(.sslRequest)
        let lateStarted = late.directTLSStarted()
        #expect(!lateStarted, "only as the very first bytes")

        var direct = ClientStartupStateMachine(method: .trust, credentials: [:], encryption: .require)
        let directStarted = direct.directTLSStarted()
        #expect(directStarted)
        #expect(direct.isEncrypted)
        #expect(sqlState(direct.received(startup("alice"))) == "08P01", "no ALPN postgresql")

        var withALPN = ClientStartupStateMachine(method: .trust, credentials: [:], encryption: .require)
        let alpnStarted = withALPN.directTLSStarted()
        #expect(alpnStarted)
        withALPN.negotiatedPostgresALPN = true
        guard case .authenticated? = withALPN.received(startup("alice")).last else {
            Issue.record("expected a login")
            return
        }
        let again = withALPN.received(.sslRequest)
        #expect(sqlState(again) == "08P01", "nothing after the login")
    }
}
