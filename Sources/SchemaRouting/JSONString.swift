/// Decoding of JSON string contents as libpg_query writes them (`\"`, `\\`, control escapes and `\uXXXX`, which it
/// also uses for `<`, `>` and `&`). Most names hold no escape at all; callers check `needsDecoding` first.
enum JSONString {
    /// Whether `raw` (the bytes between the quotes) contains an escape sequence.
    @inline(__always)
    static func needsDecoding(_ raw: UnsafeRawBufferPointer) -> Bool {
        raw.contains(UInt8(ascii: "\\"))
    }

    /// The string value of `raw`, the bytes between the quotes, as UTF-8 bytes. Invalid escapes are kept as written,
    /// which can only make a comparison fail, never succeed wrongly.
    static func decode(_ raw: UnsafeRawBufferPointer) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(raw.count)
        var index = 0
        while index < raw.count {
            let byte = raw[index]
            guard byte == UInt8(ascii: "\\"), index + 1 < raw.count else {
                output.append(byte)
                index += 1
                continue
            }
            let escaped = raw[index + 1]
            index += 2
            switch escaped {
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "u"):
                guard var scalar = hexValue(raw, at: index) else {
                    output.append(contentsOf: [UInt8(ascii: "\\"), escaped])
                    continue
                }
                index += 4
                if (0xD800..<0xDC00).contains(scalar), index + 6 <= raw.count, raw[index] == UInt8(ascii: "\\"),
                   raw[index + 1] == UInt8(ascii: "u"), let low = hexValue(raw, at: index + 2),
                   (0xDC00..<0xE000).contains(low)
                {
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                }
                appendUTF8(scalar, to: &output)
            default:
                output.append(escaped)
            }
        }
        return output
    }

    private static func hexValue(_ raw: UnsafeRawBufferPointer, at start: Int) -> UInt32? {
        guard start + 4 <= raw.count else {
            return nil
        }
        var value: UInt32 = 0
        for offset in 0..<4 {
            guard let digit = CharacterClass.hexDigitValue(raw[start + offset]) else {
                return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    private static func appendUTF8(_ scalar: UInt32, to output: inout [UInt8]) {
        guard let unicodeScalar = Unicode.Scalar(scalar) else {
            output.append(contentsOf: [0xEF, 0xBF, 0xBD])
            return
        }
        output.append(contentsOf: UTF8.encode(unicodeScalar)!)
    }
}
