import NIOCore

/// The fields of an ErrorResponse or NoticeResponse.
public struct ErrorFields: Sendable, Equatable, Error, CustomStringConvertible {
    public var severity: String
    public var sqlState: String
    public var message: String
    public var detail: String?
    public var hint: String?

    public init(severity: String = "ERROR", sqlState: SQLState, message: String, detail: String? = nil, hint: String? = nil) {
        self.severity = severity
        self.sqlState = sqlState.code
        self.message = message
        self.detail = detail
        self.hint = hint
    }

    public static func fatal(_ sqlState: SQLState, _ message: String, hint: String? = nil) -> ErrorFields {
        ErrorFields(severity: "FATAL", sqlState: sqlState, message: message, hint: hint)
    }

    public static func error(_ sqlState: SQLState, _ message: String, hint: String? = nil) -> ErrorFields {
        ErrorFields(severity: "ERROR", sqlState: sqlState, message: message, hint: hint)
    }

    public var description: String { "\(self.severity) \(self.sqlState): \(self.message)" }

    func write(to buffer: inout ByteBuffer) {
        func field(_ code: Character, _ value: String) {
            buffer.writeInteger(code.asciiValue!)
            buffer.writeNullTerminatedString(value)
        }
        field("S", self.severity)
        field("V", self.severity)
        field("C", self.sqlState)
        field("M", self.message)
        if let detail { field("D", detail) }
        if let hint { field("H", hint) }
        buffer.writeInteger(UInt8(0))
    }

    /// Decodes the body of an ErrorResponse/NoticeResponse (without type byte and length).
    public static func decode(from body: inout ByteBuffer) -> ErrorFields? {
        var result = ErrorFields(severity: "", sqlState: SQLState(""), message: "")
        while let code = body.readInteger(as: UInt8.self), code != 0 {
            guard let value = body.readNullTerminatedString() else { return nil }
            switch code {
            case UInt8(ascii: "S"): result.severity = value
            case UInt8(ascii: "C"): result.sqlState = value
            case UInt8(ascii: "M"): result.message = value
            case UInt8(ascii: "D"): result.detail = value
            case UInt8(ascii: "H"): result.hint = value
            default: break
            }
        }
        return result
    }
}
