/// A plain JSON value, for the few small parts of a parse tree that are easier to read whole (the body of a DROP
/// or COMMENT ON statement). The hot path never builds these; `TableReferenceCollector` reads the bytes directly.
///
/// Strings are kept as bytes because libpg_query copies the statement's bytes into names and literals, and the
/// statement need not be valid UTF-8.
indirect enum JSONValue: Equatable {
    /// A key and its value; objects keep the order of their members as written.
    struct Member: Equatable {
        var key: String
        var value: JSONValue
    }

    case object([Member])
    case array([JSONValue])
    case string([UInt8])
    /// A number, `true`, `false` or `null`, as written.
    case literal(String)

    /// Parses `bytes`; `nil` if they are not one JSON value or nest deeper than `maximumDepth`.
    static func parse(_ bytes: UnsafeRawBufferPointer, maximumDepth: Int = 256) -> JSONValue? {
        var parser = Parser(bytes: bytes, maximumDepth: maximumDepth)
        guard let value = parser.value(depth: 0), parser.position == bytes.count else {
            return nil
        }
        return value
    }

    /// The value of `key` when this is an object holding it.
    subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else {
            return nil
        }
        return members.first { $0.key == key }?.value
    }

    var arrayValue: [JSONValue]? {
        guard case .array(let elements) = self else { return nil }
        return elements
    }

    var stringBytes: [UInt8]? {
        guard case .string(let bytes) = self else { return nil }
        return bytes
    }

    /// The string value decoded as UTF-8 (invalid sequences replaced).
    var stringValue: String? {
        stringBytes.map { String(decoding: $0, as: UTF8.self) }
    }

    var isTrue: Bool { self == .literal("true") }

    private struct Parser {
        let bytes: UnsafeRawBufferPointer
        let maximumDepth: Int
        var position = 0

        mutating func value(depth: Int) -> JSONValue? {
            guard depth <= maximumDepth, position < bytes.count else {
                return nil
            }
            switch bytes[position] {
            case UInt8(ascii: "{"):
                position += 1
                var members: [Member] = []
                if consume(UInt8(ascii: "}")) {
                    return .object(members)
                }
                repeat {
                    guard let key = string(), consume(UInt8(ascii: ":")), let value = value(depth: depth + 1) else {
                        return nil
                    }
                    members.append(Member(key: String(decoding: key, as: UTF8.self), value: value))
                } while consume(UInt8(ascii: ","))
                return consume(UInt8(ascii: "}")) ? .object(members) : nil
            case UInt8(ascii: "["):
                position += 1
                var elements: [JSONValue] = []
                if consume(UInt8(ascii: "]")) {
                    return .array(elements)
                }
                repeat {
                    guard let element = value(depth: depth + 1) else {
                        return nil
                    }
                    elements.append(element)
                } while consume(UInt8(ascii: ","))
                return consume(UInt8(ascii: "]")) ? .array(elements) : nil
            case UInt8(ascii: "\""):
                return string().map(JSONValue.string)
            default:
                let start = position
                while position < bytes.count, !",}]".utf8.contains(bytes[position]) {
                    position += 1
                }
                guard position > start else {
                    return nil
                }
                let written = UnsafeRawBufferPointer(rebasing: bytes[start..<position])
                return .literal(String(decoding: written, as: UTF8.self))
            }
        }

        mutating func string() -> [UInt8]? {
            guard consume(UInt8(ascii: "\"")) else {
                return nil
            }
            let start = position
            while position < bytes.count {
                switch bytes[position] {
                case UInt8(ascii: "\""):
                    let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<position])
                    position += 1
                    return JSONString.needsDecoding(raw) ? JSONString.decode(raw) : Array(raw)
                case UInt8(ascii: "\\"):
                    position += 2
                default:
                    position += 1
                }
            }
            return nil
        }

        mutating func consume(_ byte: UInt8) -> Bool {
            guard position < bytes.count, bytes[position] == byte else {
                return false
            }
            position += 1
            return true
        }
    }
}
