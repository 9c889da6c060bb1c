import NIOCore

/// A complete regular message located inside a buffer: the type byte and where its payload sits.
public struct Frame: Sendable, Equatable {
    public var id: UInt8
    /// Index of the type byte in the buffer the frame was found in.
    public var start: Int
    /// Type byte + length field + payload.
    public var totalLength: Int
    public var payloadStart: Int { self.start + 5 }
    public var payloadLength: Int { self.totalLength - 5 }

    public init(id: UInt8, start: Int, totalLength: Int) {
        self.id = id
        self.start = start
        self.totalLength = totalLength
    }
}

public enum FrameError: Error, Equatable, CustomStringConvertible {
    case invalidLength(messageID: UInt8, length: Int)

    public var description: String {
        switch self {
        case .invalidLength(let id, let length):
            let printable = (0x20..<0x7F).contains(id) ? String(UnicodeScalar(id)) : "0x" + String(id, radix: 16)
            return "invalid message length \(length) for message type \(printable)"
        }
    }
}

extension ByteBuffer {
    /// Looks at the complete frame starting at the reader index without consuming anything.
    /// Returns nil while the frame is not complete; throws for a length PostgreSQL would reject, or one above
    /// `maximumLength`, as soon as the header is there.
    @inlinable
    public func peekFrame(at index: Int, maximumLength: Int = ProtocolLimits.maxMessageLength) throws(FrameError) -> Frame? {
        guard let (id, length) = self.getMultipleIntegers(at: index, as: (UInt8, UInt32).self) else { return nil }
        guard length >= 4, length <= maximumLength else {
            throw .invalidLength(messageID: id, length: Int(length))
        }
        let total = Int(length) + 1
        guard self.writerIndex - index >= total else { return nil }
        return Frame(id: id, start: index, totalLength: total)
    }
}
