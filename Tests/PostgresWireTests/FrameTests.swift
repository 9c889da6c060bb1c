import NIOCore
import Testing
@testable import PostgresWire

private func header(_ id: Character, length: UInt32) -> [UInt8] {
    [id.asciiValue!] + uint32(length)
}

@Suite struct FrameTests {
    @Test func completeFrame() throws {
        let buffer = ByteBuffer(bytes: header("Q", length: 9) + cString("BEGIN"))
        let frame = try #require(try buffer.peekFrame(at: 0))
        #expect(frame == Frame(id: UInt8(ascii: "Q"), start: 0, totalLength: 10))
        #expect(frame.payloadStart == 5)
        #expect(frame.payloadLength == 5)
        #expect(buffer.readerIndex == 0, "peeking consumes nothing")
    }

    @Test func frameAfterOthersInTheBuffer() throws {
        var buffer = ByteBuffer(bytes: header("S", length: 4) + header("X", length: 4) + [0xAA])
        buffer.moveReaderIndex(forwardBy: 5)
        let frame = try #require(try buffer.peekFrame(at: buffer.readerIndex))
        #expect(frame == Frame(id: UInt8(ascii: "X"), start: 5, totalLength: 5))
        #expect(buffer.getBytes(at: frame.start + frame.totalLength, length: 1) == [0xAA])
    }

    @Test func incompleteFrameIsNilAtEveryLength() throws {
        let bytes = header("D", length: 10) + [1, 2, 3, 4, 5, 6]
        for count in 0..<bytes.count {
            let buffer = ByteBuffer(bytes: bytes.prefix(count))
            #expect(try buffer.peekFrame(at: 0) == nil, "with \(count) bytes")
        }
        #expect(try ByteBuffer(bytes: bytes).peekFrame(at: 0)?.totalLength == 11)
    }

    @Test(arguments: [UInt32(0), 1, 3])
    func lengthBelowFourThrows(length: UInt32) {
        let buffer = ByteBuffer(bytes: header("Q", length: length))
        #expect(throws: FrameError.invalidLength(messageID: UInt8(ascii: "Q"), length: Int(length))) {
            try buffer.peekFrame(at: 0)
        }
    }

    @Test(arguments: [UInt32(1 << 30) + 1, 0x8000_0000, 0xFFFF_FFFF])
    func lengthAboveOneGiBThrows(length: UInt32) {
        let buffer = ByteBuffer(bytes: header("D", length: length))
        #expect(throws: FrameError.invalidLength(messageID: UInt8(ascii: "D"), length: Int(length))) {
            try buffer.peekFrame(at: 0)
        }
    }

    @Test func lengthFourIsAnEmptyPayload() throws {
        let buffer = ByteBuffer(bytes: header("H", length: 4))
        #expect(try buffer.peekFrame(at: 0) == Frame(id: UInt8(ascii: "H"), start: 0, totalLength: 5))
    }

    @Test func lengthOfExactlyOneGiBIsAllowedAndWaitsForItsPayload() throws {
        let buffer = ByteBuffer(bytes: header("D", length: 1 << 30) + [0, 1])
        #expect(try buffer.peekFrame(at: 0) == nil)
    }

    @Test func invalidLengthDescription() {
        #expect(
            FrameError.invalidLength(messageID: UInt8(ascii: "Q"), length: 2).description
                == "invalid message length 2 for message type Q"
        )
        #expect(
            FrameError.invalidLength(messageID: 0x01, length: 2).description
                == "invalid message length 2 for message type 0x1"
        )
    }
}
