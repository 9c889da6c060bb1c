import NIOCore
import Testing
@testable import ProxySession

private let s = ByteBuffer(bytes: [UInt8(ascii: "S")])
private let n = ByteBuffer(bytes: [UInt8(ascii: "N")])

/// A CancelRequest to a server with the backend's sslmode: every step by events, no sockets.
@Suite struct CancelRequestStateMachineTests {
    @Test func disableAndAllowSendTheCancelInPlaintext() {
        for policy in [ServerTLSPolicy.disable, .allow] {
            var sm = CancelRequestStateMachine(policy: policy, overUnixSocket: false)
            #expect(sm.start() == .connect)
            #expect(sm.connected() == .sendCancelRequest)
            #expect(sm.received(ByteBuffer(bytes: [1, 2, 3])) == .wait)  // ignored
            #expect(sm.closed() == .finish(failure: nil))
        }
    }

    @Test func requireSendsTheCancelOverTLS() {
        var sm = CancelRequestStateMachine(policy: .require, overUnixSocket: false)
        #expect(sm.connected() == .sendSSLRequest)
        #expect(sm.received(s) == .startHandshake)
        #expect(sm.handshakeCompleted(negotiatedALPN: false) == .sendCancelRequest)  // ALPN matters for direct only
        #expect(sm.closed() == .finish(failure: nil))
        #expect(sm.timedOut() == .wait)  // over already
    }

    @Test func requireRefusesNAndAFailedHandshake() {
        var refused = CancelRequestStateMachine(policy: .require, overUnixSocket: false, settingText: "sslmode=require")
        _ = refused.connected()
        #expect(refused.received(n)
                == .finish(failure: "the server does not support SSL, but sslmode=require requires it"))
        var failed = CancelRequestStateMachine(policy: .require, overUnixSocket: false)
        _ = failed.connected()
        _ = failed.received(s)
        #expect(failed.handshakeFailed("certificate verify failed")
                == .finish(failure: "TLS handshake failed: certificate verify failed"))
    }

    @Test func preferFallsBackOnNOnTheSameConnection() {
        var sm = CancelRequestStateMachine(policy: .prefer, overUnixSocket: false)
        #expect(sm.connected() == .sendSSLRequest)
        #expect(sm.received(n) == .sendCancelRequest)
        #expect(sm.closed() == .finish(failure: nil))
    }

    @Test func preferReconnectsInPlaintextOnceAfterAFailedHandshake() {
        var sm = CancelRequestStateMachine(policy: .prefer, overUnixSocket: false)
        _ = sm.connected()
        _ = sm.received(s)
        #expect(sm.closed() == .connect)  // the server hung up mid-handshake
        #expect(sm.attempt == .plaintext)
        #expect(sm.connected() == .sendCancelRequest)
        #expect(sm.closed() == .finish(failure: nil))
    }

    @Test func unixSocketsNeverAskForTLS() {
        var sm = CancelRequestStateMachine(policy: .require, overUnixSocket: true)
        #expect(sm.connected() == .sendCancelRequest)
    }

    @Test func plaintextAfterSIsNeverTakenForTheHandshake() {
        var sm = CancelRequestStateMachine(policy: .prefer, overUnixSocket: false)
        _ = sm.connected()
        guard case .finish(let failure?) = sm.received(ByteBuffer(bytes: [UInt8(ascii: "S"), 0x45])) else {
            Issue.record("bytes after S must end the request")
            return
        }
        #expect(failure.contains("unencrypted"))
    }

    @Test func closedOrTimedOutBeforeTheRequestIsAFailure() {
        var early = CancelRequestStateMachine(policy: .prefer, overUnixSocket: false)
        _ = early.connected()
        guard case .finish(failure: .some) = early.closed() else {
            Issue.record("a close before the request is a failure")
            return
        }
        var slow = CancelRequestStateMachine(policy: .require, overUnixSocket: false)
        _ = slow.connected()
        _ = slow.received(s)
        guard case .finish(failure: .some) = slow.timedOut() else {
            Issue.record("a handshake that never ends is a failure")
            return
        }
        // after the request went out a timeout only ends the wait
        var sent = CancelRequestStateMachine(policy: .disable, overUnixSocket: false)
        _ = sent.connected()
        #expect(sent.timedOut() == .finish(failure: nil))
        #expect(sent.closed() == .wait)
    }

    @Test func connectFailureEndsTheRequest() {
        var sm = CancelRequestStateMachine(policy: .require, overUnixSocket: false)
        #expect(sm.connectFailed("refused") == .finish(failure: "cannot connect: refused"))
    }

    @Test func directTLSStartsTheHandshakeAtOnceAndNeedsALPN() {
        var sm = CancelRequestStateMachine(policy: .requireDirect, overUnixSocket: false)
        #expect(sm.connected() == .startHandshake)
        #expect(sm.handshakeCompleted(negotiatedALPN: true) == .sendCancelRequest)
        #expect(sm.closed() == .finish(failure: nil))
        var withoutALPN = CancelRequestStateMachine(policy: .requireDirect, overUnixSocket: false)
        _ = withoutALPN.connected()
        guard case .finish(let failure?) = withoutALPN.handshakeCompleted(negotiatedALPN: false) else {
            Issue.record("direct TLS without ALPN must end the request")
            return
        }
        #expect(failure.contains("ALPN"))
        // a failed direct handshake is final
        var failed = CancelRequestStateMachine(policy: .requireDirect, overUnixSocket: false)
        _ = failed.connected()
        #expect(failed.handshakeFailed("alert") == .finish(failure: "TLS handshake failed: alert"))
    }
}
