import NIOCore

/// A small deterministic generator so "random" chunkings are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension ByteBuffer {
    /// The readable bytes as an array.
    var bytes: [UInt8] { self.getBytes(at: self.readerIndex, length: self.readableBytes) ?? [] }
}

/// Big-endian encodings for building expected wire bytes by hand.
func int32(_ value: Int32) -> [UInt8] { uint32(UInt32(bitPattern: value)) }
func uint32(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8),
     UInt8(truncatingIfNeeded: value)]
}
func int16(_ value: Int16) -> [UInt8] {
    let raw = UInt16(bitPattern: value)
    return [UInt8(raw >> 8), UInt8(truncatingIfNeeded: raw)]
}
func cString(_ value: String) -> [UInt8] { Array(value.utf8) + [0] }
func ascii(_ character: Unicode.Scalar) -> [UInt8] { [UInt8(ascii: character)] }
