/// One token of PostgreSQL's lexer as `pg_query_scan` reports it.
///
/// Used where the parse tree lacks locations (the object lists of DROP and COMMENT ON) and to decide whether a
/// schema name is a keyword. The token numbers are those of libpg_query 15's `pg_query.proto` `Token` enum.
struct ScanToken: Equatable {
    /// Byte offset of the first byte of the token.
    var start: Int
    /// Byte offset one past the token. (libpg_query reports a too-short end for `U&"..."` identifiers.)
    var end: Int
    /// The `Token` enum value: an ASCII code for single-character tokens, larger values for the rest.
    var kind: Int
    /// 0 for no keyword, 1 unreserved, 2 column name, 3 type or function name, 4 reserved.
    var keywordKind: Int

    static let identifier = 258
    static let unicodeIdentifier = 259
    static let sqlComment = 275
    static let cComment = 276
    static let comma = Int(UInt8(ascii: ","))
    static let period = Int(UInt8(ascii: "."))

    var isComment: Bool { kind == Self.sqlComment || kind == Self.cComment }
    var isKeyword: Bool { keywordKind != 0 }

    /// Decodes a `PgQuery.ScanResult` protobuf message: field 2 holds the repeated `ScanToken` messages
    /// (start = 1, end = 2, token = 4, keyword_kind = 5). Returns `nil` on malformed input.
    static func decodeScanResult(_ buffer: UnsafeRawBufferPointer) -> [ScanToken]? {
        var reader = ProtobufReader(buffer)
        var tokens: [ScanToken] = []
        while !reader.isAtEnd {
            guard let (field, wireType) = reader.readTag() else { return nil }
            if field == 2 && wireType == 2 {
                guard let message = reader.readLengthDelimited(), let token = decodeToken(message) else {
                    return nil
                }
                tokens.append(token)
            } else if !reader.skip(wireType: wireType) {
                return nil
            }
        }
        return tokens
    }

    private static func decodeToken(_ buffer: UnsafeRawBufferPointer) -> ScanToken? {
        var reader = ProtobufReader(buffer)
        var token = ScanToken(start: 0, end: 0, kind: 0, keywordKind: 0)
        while !reader.isAtEnd {
            guard let (field, wireType) = reader.readTag() else { return nil }
            if wireType == 0 {
                guard let value = reader.readVarint() else { return nil }
                let number = Int(truncatingIfNeeded: value)
                switch field {
                case 1: token.start = number
                case 2: token.end = number
                case 4: token.kind = number
                case 5: token.keywordKind = number
                default: break
                }
            } else if !reader.skip(wireType: wireType) {
                return nil
            }
        }
        return token
    }
}

/// A minimal reader of the protobuf wire format, enough for `pg_query_scan`'s output.
private struct ProtobufReader {
    private let buffer: UnsafeRawBufferPointer
    private var position = 0

    init(_ buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
    }

    var isAtEnd: Bool { position >= buffer.count }

    mutating func readVarint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while position < buffer.count && shift < 64 {
            let byte = buffer[position]
            position += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 {
                return value
            }
            shift += 7
        }
        return nil
    }

    mutating func readTag() -> (field: Int, wireType: Int)? {
        guard let tag = readVarint() else { return nil }
        return (Int(tag >> 3), Int(tag & 7))
    }

    mutating func readLengthDelimited() -> UnsafeRawBufferPointer? {
        guard let length = readVarint(), length <= UInt64(buffer.count - position) else { return nil }
        let slice = UnsafeRawBufferPointer(rebasing: buffer[position..<position + Int(length)])
        position += Int(length)
        return slice
    }

    mutating func skip(wireType: Int) -> Bool {
        switch wireType {
        case 0:
            return readVarint() != nil
        case 1:
            position += 8
        case 2:
            return readLengthDelimited() != nil
        case 5:
            position += 4
        default:
            return false
        }
        return position <= buffer.count
    }
}
