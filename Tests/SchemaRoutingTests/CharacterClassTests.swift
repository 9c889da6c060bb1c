import Testing
@testable import SchemaRouting

@Suite("CharacterClass")
struct CharacterClassTests {
    @Test("the bit masks give scan.l's ident_start and ident_cont for every byte")
    func everyByte() {
        for value in 0...255 {
            let byte = UInt8(value)
            let letter = (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            let start = letter || byte == UInt8(ascii: "_") || byte >= 0x80
            let part = start || byte == UInt8(ascii: "$") || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            #expect(CharacterClass.isIdentifierStart(byte) == start, "byte \(value)")
            #expect(CharacterClass.isIdentifierPart(byte) == part, "byte \(value)")
            #expect(CharacterClass.isASCIILetter(byte) == letter, "byte \(value)")
        }
    }
}
