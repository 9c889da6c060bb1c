import NIOCore

/// Walks the complete messages a client sent after login, in place, in the buffer they arrived in: the
/// counterpart of `BackendStreamScanner` for the other direction. It stops before an incomplete message (the
/// caller keeps those bytes for the next read) and classifies each message with the ranges the relay needs,
/// looking inside only Query, Parse, Bind, Describe and Close.
public struct FrontendStreamScanner {
    /// Where the next message starts.
    public var index: Int

    public init(startingAt index: Int) {
        self.index = index
    }

    /// The next complete message of `buffer` at `index`, or nil when the bytes there do not hold one yet.
    /// Moves `index` past it.
    @inlinable
    public mutating func next(in buffer: ByteBuffer) throws(FrontendStreamError) -> FrontendMessage? {
        let frame: Frame
        do {
            guard let found = try buffer.peekFrame(at: self.index) else { return nil }
            frame = found
        } catch {
            throw .frame(error)
        }
        guard FrontendMessageID.isValidAfterStartup(frame.id) else { throw .invalidMessageType(frame.id) }
        self.index = frame.start + frame.totalLength
        return Self.classify(frame, in: buffer)
    }

    /// The message `frame` with its statement text and name located.
    @usableFromInline
    static func classify(_ frame: Frame, in buffer: ByteBuffer) -> FrontendMessage {
        var message = FrontendMessage(frame: frame)
        let end = frame.start + frame.totalLength
        let bytes = buffer.readableBytesView  // its indices are the buffer's own
        func nul(from start: Int) -> Int? {
            guard start < end else { return nil }
            return bytes[start..<end].firstIndex(of: 0)
        }
        switch frame.id {
        case FrontendMessageID.query:
            if let textEnd = nul(from: frame.payloadStart) { message.statementText = frame.payloadStart..<textEnd }
        case FrontendMessageID.parse:
            guard let nameEnd = nul(from: frame.payloadStart) else { break }
            message.statementName = frame.payloadStart..<nameEnd
            if let textEnd = nul(from: nameEnd + 1) { message.statementText = (nameEnd + 1)..<textEnd }
        case FrontendMessageID.bind:
            guard let portalEnd = nul(from: frame.payloadStart), let nameEnd = nul(from: portalEnd + 1) else { break }
            message.statementName = (portalEnd + 1)..<nameEnd
        case FrontendMessageID.describe, FrontendMessageID.close:
            guard frame.payloadLength >= 2,
                  buffer.getInteger(at: frame.payloadStart, as: UInt8.self) == UInt8(ascii: "S"),
                  let nameEnd = nul(from: frame.payloadStart + 1) else { break }
            message.statementName = (frame.payloadStart + 1)..<nameEnd
        default:
            break
        }
        return message
    }
}
