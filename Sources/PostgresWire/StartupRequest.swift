import NIOCore

/// The first packet a client sends: it has no type byte, only a length and a request code.
public enum StartupRequest: Sendable, Equatable {
    case sslRequest
    case gssEncryptionRequest
    case cancel(BackendKey)
    case startup(StartupMessage)

    static let sslRequestCode: UInt32 = 80_877_103
    static let gssEncryptionRequestCode: UInt32 = 80_877_104
    static let cancelRequestCode: UInt32 = 80_877_102

    /// Decodes one startup packet from the front of `buffer`.
    /// Returns nil (consuming nothing) while the packet is incomplete.
    public static func decode(from buffer: inout ByteBuffer) throws(StartupDecodingError) -> StartupRequest? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length >= 8 else { throw .invalidLength(Int(length)) }
        guard length <= ProtocolLimits.maxStartupPacketLength else { throw .invalidLength(Int(length)) }
        guard buffer.readableBytes >= Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        var body = buffer.readSlice(length: Int(length) - 4)!
        let code = body.readInteger(as: UInt32.self)!
        switch code {
        case sslRequestCode:
            return .sslRequest
        case gssEncryptionRequestCode:
            return .gssEncryptionRequest
        case cancelRequestCode:
            guard let pid = body.readInteger(as: Int32.self), let secret = body.readInteger(as: Int32.self),
                  body.readableBytes == 0 else { throw .malformed("CancelRequest must be 16 bytes") }
            return .cancel(BackendKey(processID: pid, secretKey: secret))
        default:
            let major = UInt16(code >> 16)
            let minor = UInt16(code & 0xFFFF)
            guard major == 3 else { throw .unsupportedProtocol(major: major, minor: minor) }
            return .startup(try StartupMessage(minorVersion: minor, parameterBytes: &body))
        }
    }
}

/// A process id and secret, as in BackendKeyData and CancelRequest.
public struct BackendKey: Hashable, Sendable {
    public var processID: Int32
    public var secretKey: Int32
    public init(processID: Int32, secretKey: Int32) {
        self.processID = processID
        self.secretKey = secretKey
    }
}

/// A protocol-3 StartupMessage: the requested minor version and the name/value parameters in order.
public struct StartupMessage: Sendable, Equatable {
    public var minorVersion: UInt16
    /// Ordinary run-time parameters (user, database, application_name, options, GUCs...).
    public var parameters: [(name: String, value: String)]
    /// `_pq_.`-prefixed protocol extensions the client asked for; we support none of them.
    public var protocolOptions: [String]

    public init(minorVersion: UInt16 = 0, parameters: [(name: String, value: String)], protocolOptions: [String] = []) {
        self.minorVersion = minorVersion
        self.parameters = parameters
        self.protocolOptions = protocolOptions
    }

    init(minorVersion: UInt16, parameterBytes body: inout ByteBuffer) throws(StartupDecodingError) {
        self.minorVersion = minorVersion
        self.parameters = []
        self.protocolOptions = []
        while true {
            guard let name = body.readNullTerminatedString() else {
                throw .malformed("unterminated parameter name in startup packet")
            }
            if name.isEmpty { break }
            guard let value = body.readNullTerminatedString() else {
                throw .malformed("unterminated value for startup parameter \"\(name)\"")
            }
            if name.hasPrefix("_pq_.") {
                self.protocolOptions.append(name)
            } else {
                self.parameters.append((name, value))
            }
        }
        guard body.readableBytes == 0 else { throw .malformed("trailing bytes after startup parameters") }
    }

    /// The value of a parameter; as in PostgreSQL, a repeated name means its last value.
    public subscript(name: String) -> String? {
        self.parameters.last(where: { $0.name == name })?.value
    }

    public var user: String? { self["user"] }
    /// PostgreSQL defaults an absent or empty database name to the user name.
    public var database: String? {
        if let database = self["database"], !database.isEmpty { return database }
        return self.user
    }

    public static func == (lhs: StartupMessage, rhs: StartupMessage) -> Bool {
        lhs.minorVersion == rhs.minorVersion && lhs.protocolOptions == rhs.protocolOptions
            && lhs.parameters.elementsEqual(rhs.parameters, by: { $0.name == $1.name && $0.value == $1.value })
    }
}

public enum StartupDecodingError: Error, Equatable, CustomStringConvertible {
    case invalidLength(Int)
    case unsupportedProtocol(major: UInt16, minor: UInt16)
    case malformed(String)

    public var description: String {
        switch self {
        case .invalidLength(let length): return "invalid length of startup packet: \(length)"
        case .unsupportedProtocol(let major, let minor):
            return "unsupported frontend protocol \(major).\(minor): server supports 3.0 to 3.0"
        case .malformed(let message): return message
        }
    }
}
