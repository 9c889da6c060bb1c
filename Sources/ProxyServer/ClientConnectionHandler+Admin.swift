#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ConnectionPool
import ProxyConfig
import Logging
import DataPlane
import NIOCore
import PostgresWire
import ProxySession
import SchemaRouting
import Synchronization

/// The admin console: simple queries only, answered by `AdminConsole`.
extension ClientConnectionHandler {
    func runAdmin(_ console: AdminConsole) {
        while var buffer = self.inbound {
            let frame: Frame?
            do { frame = try buffer.peekFrame(at: buffer.readerIndex) } catch {
                return self.failAndClose(.fatal(.protocolViolation, error.description))
            }
            guard let frame else { return }
            let payload = buffer.getSlice(at: frame.payloadStart, length: frame.payloadLength)!
            buffer.moveReaderIndex(forwardBy: frame.totalLength)
            self.inbound = buffer.readableBytes > 0 ? buffer : nil
            var writer = MessageWriter(buffer: self.allocator.buffer(capacity: 1024))
            switch frame.id {
            case FrontendMessageID.query:
                var payload = payload
                let sql = payload.readNullTerminatedString() ?? ""
                console.execute(sql, into: &writer)
                self.send(writer.buffer)
            case FrontendMessageID.terminate:
                self.phase = .closing
                self.socket.close()
                return
            default:
                writer.writeError(.error(.featureNotSupported, "the admin console supports only simple queries"))
                writer.writeReadyForQuery(.idle)
                self.send(writer.buffer)
            }
        }
    }
}
