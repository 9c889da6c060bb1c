import NIOCore
import Testing
@testable import ProxySession

private func answer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

/// The SSLRequest exchange towards servers and libpq's sslmode rules for a second attempt.
@Suite struct ServerTLSNegotiationTests {
    @Test func firstAttemptsFollowLibpq() {
        #expect(ServerTLSPolicy.disable.firstAttempt(overUnixSocket: false) == .plaintext)
        #expect(ServerTLSPolicy.allow.firstAttempt(overUnixSocket: false) == .plaintext)
        #expect(ServerTLSPolicy.prefer.firstAttempt(overUnixSocket: false) == .tlsIfOffered)
        #expect(ServerTLSPolicy.require.firstAttempt(overUnixSocket: false) == .tlsRequired)
        // libpq never asks for TLS over a Unix-domain socket
        for policy in [ServerTLSPolicy.disable, .allow, .prefer, .require] {
            #expect(policy.firstAttempt(overUnixSocket: true) == .plaintext)
        }
    }

    @Test func allowRetriesWithTLSOnlyAfterAPlaintextRefusal() {
        let allow = ServerTLSPolicy.allow
        #expect(allow.retry(after: .refusedBeforeAuthentication(overTLS: false), of: .plaintext) == .tlsRequired)
        #expect(allow.retry(after: .refusedBeforeAuthentication(overTLS: true), of: .tlsRequired) == nil)
        #expect(allow.retry(after: .handshakeFailed, of: .tlsRequired) == nil)
    }

    @Test func preferRetriesInPlaintextAfterAFailedHandshakeOrARefusalOverTLS() {
        let prefer = ServerTLSPolicy.prefer
        #expect(prefer.retry(after: .handshakeFailed, of: .tlsIfOffered) == .plaintext)
        #expect(prefer.retry(after: .refusedBeforeAuthentication(overTLS: true), of: .tlsIfOffered) == .plaintext)
        // `N` then a refusal in plaintext: nothing else to try
        #expect(prefer.retry(after: .refusedBeforeAuthentication(overTLS: false), of: .tlsIfOffered) == nil)
        #expect(prefer.retry(after: .handshakeFailed, of: .plaintext) == nil)
    }

    @Test func requireAndDisableNeverRetry() {
        for failure in [ServerTLSAttemptFailure.handshakeFailed, .refusedBeforeAuthentication(overTLS: true),
                        .refusedBeforeAuthentication(overTLS: false)] {
            #expect(ServerTLSPolicy.require.retry(after: failure, of: .tlsRequired) == nil)
            #expect(ServerTLSPolicy.disable.retry(after: failure, of: .plaintext) == nil)
        }
    }

    @Test func plaintextSendsNoSSLRequest() {
        var negotiation = ServerTLSNegotiation(attempt: .plaintext)
        #expect(negotiation.connected() == .proceedInPlaintext)
        #expect(!negotiation.isAwaitingAnswer && !negotiation.isHandshaking)
    }

    @Test func sStartsTheHandshake() {
        var negotiation = ServerTLSNegotiation(attempt: .tlsRequired)
        #expect(negotiation.connected() == .sendSSLRequest)
        #expect(negotiation.isAwaitingAnswer)
        #expect(negotiation.received(answer([UInt8(ascii: "S")])) == .startHandshake)
        #expect(negotiation.isHandshaking && !negotiation.isEstablished)
        #expect(negotiation.handshakeCompleted(negotiatedALPN: false) == nil)
        #expect(negotiation.isEstablished && !negotiation.isHandshaking)
    }

    @Test func bytesAfterSAreRefused() {
        var negotiation = ServerTLSNegotiation(attempt: .tlsIfOffered)
        _ = negotiation.connected()
        guard case .fail(let why) = negotiation.received(answer([UInt8(ascii: "S"), 0, 0])) else {
            Issue.record("plaintext after S must fail")
            return
        }
        #expect(why.contains("unencrypted data after accepting SSL"))
        #expect(!negotiation.isHandshaking)
    }

    @Test func nContinuesInPlaintextOnlyWhenTLSIsOptional() {
        var prefer = ServerTLSNegotiation(attempt: .tlsIfOffered)
        _ = prefer.connected()
        #expect(prefer.received(answer([UInt8(ascii: "N")])) == .proceedInPlaintext)
        var require = ServerTLSNegotiation(attempt: .tlsRequired, settingText: "sslmode=verify-full")
        _ = require.connected()
        #expect(require.received(answer([UInt8(ascii: "N")]))
                == .fail("the server does not support SSL, but sslmode=verify-full requires it"))
    }

    @Test func anErrorOrOtherAnswerFails() {
        for byte in [UInt8(ascii: "E"), UInt8(ascii: "X")] {
            var negotiation = ServerTLSNegotiation(attempt: .tlsIfOffered)
            _ = negotiation.connected()
            guard case .fail = negotiation.received(answer([byte])) else {
                Issue.record("answer \(byte) must fail")
                continue
            }
        }
    }

    @Test func directTLSSendsNoSSLRequestAndRequiresALPN() {
        #expect(ServerTLSPolicy.requireDirect.firstAttempt(overUnixSocket: false) == .directTLS)
        #expect(ServerTLSPolicy.requireDirect.firstAttempt(overUnixSocket: true) == .plaintext)
        #expect(ServerTLSPolicy.requireDirect.retry(after: .handshakeFailed, of: .directTLS) == nil)
        var direct = ServerTLSNegotiation(attempt: .directTLS)
        #expect(direct.connected() == .startHandshake)
        #expect(direct.isHandshaking)
        #expect(direct.handshakeCompleted(negotiatedALPN: true) == nil)
        #expect(direct.isEstablished)
        var withoutALPN = ServerTLSNegotiation(attempt: .directTLS)
        _ = withoutALPN.connected()
        #expect(withoutALPN.handshakeCompleted(negotiatedALPN: false)?.contains("ALPN") == true)
        #expect(!withoutALPN.isEstablished)
    }
}
