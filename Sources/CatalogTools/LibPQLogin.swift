import CLibPQ
import COpenSSL
import Foundation

/// Drives a libpq connection started with PQconnectStartParams to the end of its login, and before libpq reads
/// the server's bytes while it waits for authentication, shows them to an `AuthenticationRequestCheck` (peeked:
/// from the socket, or decrypted from libpq's own TLS session, without taking them from libpq). A refused request
/// ends the login before libpq could answer it.
struct LibPQLogin {
    let connection: OpaquePointer

    func run(checking check: inout AuthenticationRequestCheck) throws(CatalogError) {
        var polling = PGRES_POLLING_WRITING
        while true {
            // A state before authentication means a new attempt inside libpq's loop (multi-host,
            // target_session_attrs, sslmode allow/prefer): the check starts over for that server.
            switch PQstatus(self.connection) {
            case CONNECTION_STARTED, CONNECTION_MADE, CONNECTION_SSL_STARTUP, CONNECTION_NEEDED:
                check.connectionRestarted()
            default:
                break
            }
            switch polling {
            case PGRES_POLLING_OK:
                return
            case PGRES_POLLING_FAILED:
                return  // the caller reports PQerrorMessage
            case PGRES_POLLING_READING:
                Self.wait(for: Int16(POLLIN), on: PQsocket(self.connection))
                if PQstatus(self.connection) == CONNECTION_AWAITING_RESPONSE {
                    if PQgssEncInUse(self.connection) == 1 {
                        throw CatalogError("cannot check require_auth over GSSAPI encryption (set gssencmode=disable)")
                    }
                    switch self.peek() {
                    case .nothingYet:
                        continue  // never let libpq read what the check has not seen
                    case .endOrError:
                        break  // libpq reports it
                    case .bytes(let bytes):
                        switch check.inspect(bytes) {
                        case .allowed: break
                        case .needMoreBytes:
                            usleep(1000)  // the rest of a message is on its way; the socket stays readable meanwhile
                            continue
                        case .refused(let reason): throw CatalogError("cannot connect: \(reason)")
                        }
                    }
                }
            default:
                Self.wait(for: Int16(POLLOUT), on: PQsocket(self.connection))
            }
            polling = PQconnectPoll(self.connection)
        }
    }

    private static func wait(for events: Int16, on socket: Int32) {
        guard socket >= 0 else { return }
        var descriptor = pollfd(fd: socket, events: events, revents: 0)
        while poll(&descriptor, 1, -1) < 0, errno == EINTR {}
    }

    private enum Peeked {
        case bytes([UInt8])
        /// Nothing whole to look at yet (a spurious wakeup, or part of a TLS record).
        case nothingYet
        /// The server closed the connection, or it failed.
        case endOrError
    }

    /// What the server sent that libpq has not read yet (up to 64 KiB; over TLS, the next record), decrypted when
    /// TLS is in use.
    private func peek() -> Peeked {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        if let ssl = PQsslStruct(self.connection, "OpenSSL").map(OpaquePointer.init) {
            let count = SSL_peek(ssl, &buffer, Int32(buffer.count))
            if count > 0 { return .bytes(Array(buffer.prefix(Int(count)))) }
            return SSL_get_error(ssl, count) == SPX_SSL_ERROR_WANT_READ ? .nothingYet : .endOrError
        }
        let count = recv(PQsocket(self.connection), &buffer, buffer.count, Int32(MSG_PEEK | MSG_DONTWAIT))
        if count > 0 { return .bytes(Array(buffer.prefix(count))) }
        if count < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return .nothingYet }
        return .endOrError
    }
}
