import NIOCore

/// One complete message of a client's stream after login, located in the buffer it arrived in, with the byte
/// ranges the relay acts on. All indices are absolute indices of that buffer, so nothing is copied.
public struct FrontendMessage: Sendable, Equatable {
    public var frame: Frame
    /// Query and Parse: the SQL text, without its NUL. Nil for other messages and for a malformed one (the
    /// server answers that with its own error).
    public var statementText: Range<Int>?
    /// Parse, Bind, and Describe or Close of a statement ('S'): the statement's name, without its NUL; an empty
    /// range for the unnamed statement. Nil for other messages (and portals), and for a malformed one.
    public var statementName: Range<Int>?

    public init(frame: Frame, statementText: Range<Int>? = nil, statementName: Range<Int>? = nil) {
        self.frame = frame
        self.statementText = statementText
        self.statementName = statementName
    }

    public var id: UInt8 { self.frame.id }
    /// Where the next message starts.
    public var end: Int { self.frame.start + self.frame.totalLength }

    /// Whether the message names the unnamed statement.
    public var namesUnnamedStatement: Bool { self.statementName?.isEmpty ?? false }

    /// Whether the message ends what the server answers with one ReadyForQuery (a sync point).
    public var isSyncPoint: Bool {
        self.id == FrontendMessageID.sync || self.id == FrontendMessageID.query
            || self.id == FrontendMessageID.functionCall
    }
}

/// Why a client's stream cannot be relayed: the connection ends with 08P01.
public enum FrontendStreamError: Error, Equatable, CustomStringConvertible {
    case frame(FrameError)
    case invalidMessageType(UInt8)

    public var description: String {
        switch self {
        case .frame(let error):
            return error.description
        case .invalidMessageType(let id):
            let shown = (0x20..<0x7F).contains(id) ? "\"\(Character(UnicodeScalar(id)))\"" : "\(id)"
            return "invalid frontend message type \(shown)"
        }
    }
}
