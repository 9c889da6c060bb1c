import DataPlane
import NIOCore
import PostgresWire
import ProxySession

/// TLS towards the client (`client_tls`): the SSLRequest's 'S' and the handshake on the client's own socket.
extension ClientConnectionHandler {
    /// Answers an SSLRequest with 'S' and starts the handshake. `plaintextFollowed`: bytes arrived after the
    /// SSLRequest before the handshake, which a client may not send (CVE-2021-23214): the connection is closed
    /// and the bytes are never read as data.
    func startClientTLS(plaintextFollowed: Bool) {
        guard !plaintextFollowed else {
            self.runtime.logger.info("closing client connection", metadata: [
                "client": "\(self.remoteAddress)", "reason": "unencrypted data after SSL request"])
            return self.failAndClose(.fatal(.protocolViolation, "received unencrypted data after SSL request"))
        }
        guard let context = self.runtime.clientTLSContext else {
            return self.failAndClose(.fatal(.protocolViolation, "TLS is not configured"))
        }
        var answer = self.socket.allocator.buffer(capacity: 1)
        answer.writeInteger(UInt8(ascii: "S"))
        self.socket.send(answer)
        guard !self.socket.isClosed else { return }
        self.beginTLS(with: context)
    }

    /// Starts the handshake on the client's socket; a session that cannot start closes it, with the reason logged.
    private func beginTLS(with context: TLSContext) {
        let connection = self.socket.connection
        do {
            let session = try context.makeSession(descriptor: connection.descriptor)
            guard connection.startTLS(session) else {
                self.logTLSFailure(reason: session.failureReason ?? "the TLS handshake could not start")
                return self.socket.close()
            }
        } catch {
            self.logTLSFailure(reason: error.description)
            self.socket.close()
        }
    }

    /// Tells the startup machine what the handshake established: the verified client certificate's CN (only a
    /// verifying context asks for a certificate) and the channel binding data for SCRAM-SHA-256-PLUS.
    func noteTLS(in machine: inout ClientStartupStateMachine) {
        guard let tls = self.socket.connection.tls, tls.isEstablished else { return }
        machine.clientCertificateName = tls.peerCommonName
        machine.channelBinding = tls.serverEndPoint
        machine.negotiatedPostgresALPN = tls.negotiatedPostgresALPN
    }

    /// A ClientHello as the first bytes (`sslnegotiation=direct`): TLS at once, without an SSLRequest and 'S'.
    func socketBeginsWithTLSHandshake() {
        guard case .startup(var machine) = self.phase, machine.directTLSStarted(),
              let context = self.runtime.clientTLSContext else {
            return self.socket.close()  // TLS bytes where TLS is not configured: nothing to say in plaintext
        }
        self.phase = .startup(machine)
        self.beginTLS(with: context)
    }

    /// Logs why TLS failed, once the socket closed because of it.
    func logTLSFailure(reason: String? = nil) {
        guard let reason = reason ?? self.socket.tlsFailureReason else { return }
        self.runtime.logger.info("client TLS failed", metadata: ["client": "\(self.remoteAddress)", "reason": "\(reason)"])
    }
}
