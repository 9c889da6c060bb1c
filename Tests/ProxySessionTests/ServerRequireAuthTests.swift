import NIOCore
import PostgresWire
import Testing
@testable import ProxySession

/// libpq's require_auth on the proxy's server logins: a server asking for a method not allowed is refused before
/// any password is sent.
@Suite struct ServerRequireAuthTests {
    private func machine(allowed: Set<String>?) -> ServerStartupStateMachine {
        var sm = ServerStartupStateMachine(login: .init(
            user: "alice", password: "secret", database: "app", parameters: [], allowedMethods: allowed,
            requireAuthText: allowed.map { $0.sorted().joined(separator: ",") } ?? ""))
        _ = sm.connected()
        return sm
    }

    private func request(_ code: UInt32, _ rest: [UInt8] = []) -> ByteBuffer {
        Payload().uint32(code).raw(rest).buffer
    }

    private func refused(_ action: ServerStartupStateMachine.Action) -> Bool {
        if case .fail(.unsupportedAuthentication(let why)) = action { return why.contains("require_auth") }
        return false
    }

    @Test func scramOnlyRefusesCleartextMD5AndNoAuthentication() {
        for code: UInt32 in [3, 0] {
            var sm = machine(allowed: ["scram-sha-256"])
            #expect(refused(sm.received(BackendMessageID.authentication, payload: request(code))), "code \(code)")
        }
        var md5 = machine(allowed: ["scram-sha-256"])
        #expect(refused(md5.received(BackendMessageID.authentication, payload: request(5, [1, 2, 3, 4]))))
        var scram = machine(allowed: ["scram-sha-256"])
        let mechanisms = Array(Payload().cstring("SCRAM-SHA-256").byte(0).buffer.readableBytesView)
        guard case .send(.saslInitialResponse) = scram.received(BackendMessageID.authentication,
                                                                payload: request(10, mechanisms)) else {
            Issue.record("SCRAM must be allowed")
            return
        }
    }

    @Test func withoutRequireAuthEverythingTheProxyCanAnswerIsAccepted() {
        var sm = machine(allowed: nil)
        #expect(sm.received(BackendMessageID.authentication, payload: request(3)) == .send(.password("secret")))
        // md5 then AuthenticationOk: the Ok ends the md5 exchange, it is not "none"
        var md5 = machine(allowed: ["md5"])
        #expect(md5.received(BackendMessageID.authentication, payload: request(5, [1, 2, 3, 4])) != .wait)
        #expect(md5.received(BackendMessageID.authentication, payload: request(0)) == .wait)
        var none = machine(allowed: ["none", "md5"])
        #expect(none.received(BackendMessageID.authentication, payload: request(0)) == .wait)
    }

    @Test func channelBindingRequireNeedsPlusAndTLS() {
        func bound(_ binding: [UInt8]?) -> ServerStartupStateMachine {
            var sm = ServerStartupStateMachine(login: .init(
                user: "alice", password: "secret", database: "app", parameters: [], requireChannelBinding: true))
            _ = sm.connected()
            sm.channelBinding = binding
            return sm
        }
        let plain = Array(Payload().cstring("SCRAM-SHA-256").byte(0).buffer.readableBytesView)
        let both = Array(Payload().cstring("SCRAM-SHA-256-PLUS").cstring("SCRAM-SHA-256").byte(0).buffer.readableBytesView)
        var noPlus = bound(Array(1...32))
        guard case .fail = noPlus.received(BackendMessageID.authentication, payload: request(10, plain)) else {
            Issue.record("SCRAM without PLUS must be refused")
            return
        }
        var noTLS = bound(nil)
        guard case .fail = noTLS.received(BackendMessageID.authentication, payload: request(10, both)) else {
            Issue.record("no binding data must be refused")
            return
        }
        var md5 = bound(Array(1...32))
        guard case .fail = md5.received(BackendMessageID.authentication, payload: request(5, [1, 2, 3, 4])) else {
            Issue.record("md5 must be refused")
            return
        }
        var ok = bound(Array(1...32))
        guard case .send(.saslInitialResponse(let mechanism, let data)) =
                ok.received(BackendMessageID.authentication, payload: request(10, both)) else {
            Issue.record("expected SCRAM-SHA-256-PLUS")
            return
        }
        #expect(mechanism == "SCRAM-SHA-256-PLUS")
        #expect(String(decoding: data, as: UTF8.self).hasPrefix("p=tls-server-end-point,,"))
    }
}
