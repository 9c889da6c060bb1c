import NIOCore
import Testing
@testable import PostgresWire

private func message(_ id: Character, _ payload: [UInt8]) -> [UInt8] {
    [id.asciiValue!] + uint32(UInt32(payload.count + 4)) + payload
}

/// Every message the scanner finds in `bytes` placed after `offset` bytes already read, as (id, text, name).
private func scanAll(_ bytes: [UInt8], readerOffset offset: Int = 0) throws -> (found: [(UInt8, String?, String?)], end: Int) {
    var buffer = ByteBuffer(bytes: [UInt8](repeating: 0xEE, count: offset) + bytes)
    buffer.moveReaderIndex(forwardBy: offset)
    var scanner = FrontendStreamScanner(startingAt: buffer.readerIndex)
    var found: [(UInt8, String?, String?)] = []
    while let next = try scanner.next(in: buffer) {
        let text = next.statementText.map { String(decoding: buffer.readableBytesView[$0], as: UTF8.self) }
        let name = next.statementName.map { String(decoding: buffer.readableBytesView[$0], as: UTF8.self) }
        found.append((next.id, text, name))
        #expect(next.end == scanner.index)
    }
    return (found, scanner.index - offset)
}

@Suite struct FrontendStreamScannerTests {
    /// What a driver sends for one extended-protocol query, then a simple query, a Close and a Terminate.
    static let pipeline: [UInt8] =
        message("P", cString("s1") + cString("SELECT * FROM users WHERE id = $1") + int16(1) + uint32(23))
        + message("B", cString("") + cString("s1") + int16(0) + int16(1) + int32(1) + Array("7".utf8) + int16(0))
        + message("D", ascii("P") + cString(""))
        + message("E", cString("") + int32(0))
        + message("S", [])
        + message("Q", cString("SELECT 1"))
        + message("D", ascii("S") + cString("s1"))
        + message("C", ascii("S") + cString(""))
        + message("H", [])
        + message("X", [])

    @Test(arguments: [0, 3])
    func locatesTextsAndNamesInPlace(readerOffset: Int) throws {
        let (found, end) = try scanAll(Self.pipeline, readerOffset: readerOffset)
        #expect(end == Self.pipeline.count)
        #expect(found.map { Character(UnicodeScalar($0.0)) } == ["P", "B", "D", "E", "S", "Q", "D", "C", "H", "X"])
        #expect(found[0].1 == "SELECT * FROM users WHERE id = $1" && found[0].2 == "s1")
        #expect(found[1].1 == nil && found[1].2 == "s1")
        #expect(found[2].2 == nil)  // a portal, not a statement
        #expect(found[5].1 == "SELECT 1" && found[5].2 == nil)
        #expect(found[6].2 == "s1")
        #expect(found[7].2 == "")  // the unnamed statement
        #expect(found[4].1 == nil && found[4].2 == nil)
    }

    @Test func stopsBeforeAnIncompleteMessageAtEveryCut() throws {
        let bytes = Self.pipeline
        for cut in 0..<bytes.count {
            let (found, end) = try scanAll(Array(bytes[..<cut]))
            // It ends exactly after the last message that fits.
            var expectedEnd = 0
            var count = 0
            while expectedEnd + 5 <= cut {
                let length = Int(bytes[expectedEnd + 1]) << 24 | Int(bytes[expectedEnd + 2]) << 16
                    | Int(bytes[expectedEnd + 3]) << 8 | Int(bytes[expectedEnd + 4])
                guard expectedEnd + 1 + length <= cut else { break }
                expectedEnd += 1 + length
                count += 1
            }
            #expect(end == expectedEnd, "cut at \(cut)")
            #expect(found.count == count, "cut at \(cut)")
        }
    }

    @Test func malformedStatementsAreLeftToTheServer() throws {
        // No NUL after the text: nothing to rewrite, but the message still goes on.
        let (found, _) = try scanAll(message("Q", Array("SELECT 1".utf8)) + message("P", cString("only-a-name")))
        #expect(found.count == 2)
        #expect(found[0].1 == nil)
        #expect(found[1].1 == nil && found[1].2 == "only-a-name")
    }

    @Test func refusesMessagesAClientMayNotSend() {
        #expect(throws: FrontendStreamError.invalidMessageType(UInt8(ascii: "p"))) {
            _ = try scanAll(message("p", cString("password")))
        }
        #expect(throws: FrontendStreamError.invalidMessageType(0)) {
            _ = try scanAll([0, 0, 0, 0, 4])
        }
        #expect(FrontendStreamError.invalidMessageType(UInt8(ascii: "Z")).description == "invalid frontend message type \"Z\"")
    }

    @Test func refusesLengthsPostgreSQLWouldRefuse() {
        #expect(throws: FrontendStreamError.frame(.invalidLength(messageID: UInt8(ascii: "Q"), length: 3))) {
            _ = try scanAll(ascii("Q") + uint32(3))
        }
    }

    @Test func syncPoints() throws {
        var buffer = ByteBuffer(bytes: message("S", []) + message("Q", cString("")) + message("F", int32(1)) + message("H", []))
        var scanner = FrontendStreamScanner(startingAt: 0)
        var points: [Bool] = []
        while let next = try scanner.next(in: buffer) { points.append(next.isSyncPoint) }
        #expect(points == [true, true, true, false])
        buffer.clear()
    }
}
