import NIOCore
import Testing
@testable import PostgresWire

/// One message as the scanner should report it.
private struct Event: Equatable, CustomStringConvertible {
    var id: UInt8
    var status: UInt8?
    var description: String {
        "\(Character(UnicodeScalar(self.id)))" + (self.status.map { "(\(Character(UnicodeScalar($0))))" } ?? "")
    }
}

private func message(_ id: Character, _ payload: [UInt8]) -> [UInt8] {
    [id.asciiValue!] + uint32(UInt32(payload.count + 4)) + payload
}

/// A realistic response to `SET x; SELECT ...; BEGIN; bad; ROLLBACK`: with message ends and the expected events.
private struct Stream {
    var bytes: [UInt8] = []
    var events: [Event] = []
    /// Offsets just past each message.
    var ends: [Int] = []

    mutating func add(_ id: Character, _ payload: [UInt8]) {
        self.bytes += message(id, payload)
        let status: UInt8? = id == "Z" ? payload.first : nil
        self.events.append(Event(id: id.asciiValue!, status: status))
        self.ends.append(self.bytes.count)
    }

    static var realistic: Stream {
        var stream = Stream()
        stream.add("C", cString("SET"))
        stream.add("S", cString("TimeZone") + cString("UTC"))
        stream.add("Z", ascii("I"))
        var rowDescription: [UInt8] = int16(2)
        for name in ["id", "name"] {
            rowDescription += cString(name) + uint32(16_384) + int16(1) + uint32(23) + int16(4) + int32(-1)
                + int16(0)
        }
        stream.add("T", rowDescription)
        stream.add("D", int16(2) + int32(1) + Array("1".utf8) + int32(5) + Array("alice".utf8))
        stream.add("D", int16(2) + int32(1) + Array("2".utf8) + int32(-1))
        stream.add("D", int16(0))
        stream.add("C", cString("SELECT 3"))
        stream.add("Z", ascii("I"))
        stream.add("C", cString("BEGIN"))
        stream.add("Z", ascii("T"))
        stream.add("N", ascii("S") + cString("WARNING") + ascii("M") + cString("careful") + [0])
        stream.add("E", ascii("S") + cString("ERROR") + ascii("C") + cString("42601") + [0])
        stream.add("Z", ascii("E"))
        stream.add("C", cString("ROLLBACK"))
        stream.add("1", [])
        stream.add("n", [])
        stream.add("Z", ascii("I"))
        return stream
    }
}

/// Feeds `chunks` in order and returns the events; checks `isAtMessageBoundary` after each chunk.
private func scan(
    _ bytes: [UInt8], cuts: [Int], ends: [Int], sourceLocation: SourceLocation = #_sourceLocation
) throws -> [Event] {
    var scanner = BackendStreamScanner()
    var events: [Event] = []
    var start = 0
    for cut in cuts + [bytes.count] {
        // Give each chunk a non-zero reader index, as a real read buffer may have.
        var buffer = ByteBuffer(bytes: [0xEE, 0xEE] + bytes[start..<cut])
        buffer.moveReaderIndex(forwardBy: 2)
        try scanner.scan(buffer) { events.append(Event(id: $0, status: $1)) }
        start = cut
        let atBoundary = cut == 0 || ends.contains(cut)
        #expect(scanner.isAtMessageBoundary == atBoundary, "after \(cut) bytes", sourceLocation: sourceLocation)
    }
    return events
}

@Suite struct BackendStreamScannerTests {
    @Test func wholeStream() throws {
        let stream = Stream.realistic
        #expect(try scan(stream.bytes, cuts: [], ends: stream.ends) == stream.events)
    }

    @Test func oneByteAtATime() throws {
        let stream = Stream.realistic
        let cuts = Array(1..<stream.bytes.count)
        #expect(try scan(stream.bytes, cuts: cuts, ends: stream.ends) == stream.events)
    }

    @Test func everySplitIntoTwoChunks() throws {
        let stream = Stream.realistic
        for cut in 0...stream.bytes.count {
            let events = try scan(stream.bytes, cuts: [cut], ends: stream.ends)
            #expect(events == stream.events, "split at \(cut)")
        }
    }

    @Test func everySplitIntoThreeChunksOfTheFirstMessages() throws {
        let stream = Stream.realistic
        let prefix = Array(stream.bytes.prefix(stream.ends[3]))
        let ends = Array(stream.ends.prefix(4))
        let events = Array(stream.events.prefix(4))
        for first in 0...prefix.count {
            for second in first...prefix.count {
                #expect(try scan(prefix, cuts: [first, second], ends: ends) == events, "cuts \(first), \(second)")
            }
        }
    }

    @Test(arguments: UInt64(1)...20)
    func randomChunkings(seed: UInt64) throws {
        let stream = Stream.realistic
        var random = SeededGenerator(seed: seed)
        var cuts: [Int] = []
        var position = 0
        while true {
            position += Int.random(in: 1...12, using: &random)
            if position >= stream.bytes.count { break }
            cuts.append(position)
        }
        #expect(try scan(stream.bytes, cuts: cuts, ends: stream.ends) == stream.events, "cuts \(cuts)")
    }

    @Test func headerSplitInsideTheLengthField() throws {
        let bytes = message("C", cString("SELECT 1")) + message("Z", ascii("T"))
        for cut in 1..<5 {
            #expect(try scan(bytes, cuts: [cut], ends: [14, 20]) == [Event(id: 0x43), Event(id: 0x5A, status: 0x54)])
        }
        // The second header split too, right after its type byte and in its length.
        #expect(try scan(bytes, cuts: [2, 15, 17], ends: [14, 20]).count == 2)
    }

    @Test func readyForQueryStatusInTheNextRead() throws {
        var scanner = BackendStreamScanner()
        var events: [Event] = []
        try scanner.scan(ByteBuffer(bytes: [UInt8(ascii: "Z")] + uint32(5))) {
            events.append(Event(id: $0, status: $1))
        }
        #expect(events.isEmpty, "the status is not known yet")
        #expect(!scanner.isAtMessageBoundary)
        try scanner.scan(ByteBuffer(bytes: ascii("E") + message("S", cString("a") + cString("b")))) {
            events.append(Event(id: $0, status: $1))
        }
        #expect(events == [Event(id: 0x5A, status: UInt8(ascii: "E")), Event(id: 0x53)])
        #expect(scanner.isAtMessageBoundary)
    }

    @Test func emptyBufferChangesNothing() throws {
        var scanner = BackendStreamScanner()
        var count = 0
        try scanner.scan(ByteBuffer(bytes: [UInt8(ascii: "D"), 0, 0])) { _, _ in count += 1 }
        try scanner.scan(ByteBuffer()) { _, _ in count += 1 }
        #expect(count == 0)
        #expect(!scanner.isAtMessageBoundary)
        try scanner.scan(ByteBuffer(bytes: [0, 4])) { _, _ in count += 1 }
        #expect(count == 1)
        #expect(scanner.isAtMessageBoundary)
    }

    @Test(arguments: [65_536, 8_191, 100_003])
    func hugeDataRowSpanningManyReads(readSize: Int) throws {
        let payload = Array(repeating: UInt8(ascii: "D"), count: 1 << 20)  // type bytes inside the payload
        let bytes = message("D", int16(1) + int32(Int32(payload.count)) + payload) + message("C", cString("SELECT 1"))
            + message("Z", ascii("I"))
        var scanner = BackendStreamScanner()
        var events: [Event] = []
        var boundaries: [Int] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + readSize, bytes.count)
            try scanner.scan(ByteBuffer(bytes: bytes[offset..<end])) { events.append(Event(id: $0, status: $1)) }
            offset = end
            if scanner.isAtMessageBoundary { boundaries.append(offset) }
        }
        #expect(events == [Event(id: 0x44), Event(id: 0x43), Event(id: 0x5A, status: 0x49)])
        #expect(boundaries == [bytes.count])
    }

    @Test func boundaryExactlyAtTheEndOfAHugeRow() throws {
        let row = message("D", Array(repeating: 0, count: 1 << 20))
        var scanner = BackendStreamScanner()
        var count = 0
        try scanner.scan(ByteBuffer(bytes: row.dropLast())) { _, _ in count += 1 }
        #expect(!scanner.isAtMessageBoundary)
        try scanner.scan(ByteBuffer(bytes: row.suffix(1))) { _, _ in count += 1 }
        #expect(scanner.isAtMessageBoundary)
        #expect(count == 1)
    }

    @Test(arguments: [0, 3, (1 << 30) + 1, 0xFFFF_FFFF] as [UInt32])
    func invalidLengthThrowsWholeOrSplit(length: UInt32) throws {
        let bytes = message("C", cString("SET")) + [UInt8(ascii: "D")] + uint32(length)
        for cut in [0, 9, 10, 11, 13] {
            #expect(throws: FrameError.invalidLength(messageID: UInt8(ascii: "D"), length: Int(length))) {
                var scanner = BackendStreamScanner()
                try scanner.scan(ByteBuffer(bytes: bytes[..<cut])) { _, _ in }
                try scanner.scan(ByteBuffer(bytes: bytes[cut...])) { _, _ in }
            }
        }
    }

    @Test func readyForQueryWithoutStatusByteThrows() {
        #expect(throws: FrameError.invalidLength(messageID: UInt8(ascii: "Z"), length: 4)) {
            var scanner = BackendStreamScanner()
            try scanner.scan(ByteBuffer(bytes: [UInt8(ascii: "Z")] + uint32(4))) { _, _ in }
        }
    }

    @Test func maximalLengthIsAccepted() throws {
        var scanner = BackendStreamScanner()
        var ids: [UInt8] = []
        let bytes = [UInt8(ascii: "d")] + uint32(1 << 30) + [1, 2, 3]
        try scanner.scan(ByteBuffer(bytes: bytes)) { id, _ in ids.append(id) }
        #expect(ids == [UInt8(ascii: "d")])
        #expect(!scanner.isAtMessageBoundary)
    }

    @Test func errorsFromTheCallbackPropagate() {
        struct Stop: Error, Equatable {}
        var scanner = BackendStreamScanner()
        #expect(throws: Stop()) {
            try scanner.scan(ByteBuffer(bytes: message("E", [0]))) { _, _ in throw Stop() }
        }
    }
}

/// Relay mode: what reaches the client when some messages are dropped or retyped, however the stream is cut,
/// including a switch from `scan` to `relay` after any chunk.
@Suite struct BackendStreamRelayTests {
    /// Drop notices and ParameterStatus, retype ParseComplete ('1') as CloseComplete ('3').
    static func decide(_ id: UInt8) -> MessageDisposition {
        switch id {
        case UInt8(ascii: "N"), UInt8(ascii: "S"): return .drop
        case UInt8(ascii: "1"): return .translate(to: UInt8(ascii: "3"))
        default: return .forward
        }
    }

    fileprivate static func expected(_ stream: Stream, fastUntil: Int = 0) -> [UInt8] {
        var out: [UInt8] = []
        var start = 0
        for end in stream.ends {
            var message = Array(stream.bytes[start..<end])
            // Messages that began while `scan` was in charge went through whole.
            if start >= fastUntil {
                switch decide(message[0]) {
                case .drop: message = []
                case .translate(let id): message[0] = id
                case .forward: break
                }
            }
            if start < fastUntil { message = Array(stream.bytes[start..<end]) }
            out += message
            start = end
        }
        return out
    }

    /// Chunks before `fastChunks` go through `scan` (forwarded whole), the rest through `relay`.
    fileprivate static func relay(_ bytes: [UInt8], cuts: [Int], fastChunks: Int = 0) throws -> (out: [UInt8], events: [Event]) {
        var scanner = BackendStreamScanner()
        var out: [UInt8] = []
        var events: [Event] = []
        var start = 0
        for (number, cut) in (cuts + [bytes.count]).enumerated() {
            var buffer = ByteBuffer(bytes: [0xEE] + bytes[start..<cut])
            buffer.moveReaderIndex(forwardBy: 1)
            if number < fastChunks && !scanner.needsRelay {
                try scanner.scan(buffer) { events.append(Event(id: $0, status: $1)) }
                out += buffer.readableBytesView
            } else {
                try scanner.relay(buffer, decide: { id, status in
                    events.append(Event(id: id, status: status))
                    return decide(id)
                }, forward: { out += $0.readableBytesView })
            }
            start = cut
        }
        return (out, events)
    }

    @Test func everySplitIntoTwoChunks() throws {
        let stream = Stream.realistic
        for cut in 0...stream.bytes.count {
            let (out, events) = try Self.relay(stream.bytes, cuts: [cut])
            #expect(out == Self.expected(stream), "split at \(cut)")
            #expect(events == stream.events, "split at \(cut)")
        }
    }

    @Test func oneByteAtATime() throws {
        let stream = Stream.realistic
        let (out, events) = try Self.relay(stream.bytes, cuts: Array(1..<stream.bytes.count))
        #expect(out == Self.expected(stream))
        #expect(events == stream.events)
    }

    /// `scan` handles the first chunk, `relay` the rest: a message `scan` started (its header perhaps
    /// split) is forwarded whole, every later one is decided.
    @Test func switchFromScanToRelayAtEverySplit() throws {
        let stream = Stream.realistic
        for first in 1..<stream.bytes.count {
            for second in [first + 1, first + 3, first + 7] where second < stream.bytes.count {
                let (out, events) = try Self.relay(stream.bytes, cuts: [first, second], fastChunks: 1)
                // The message in progress at `first` (if any) was started by scan and goes through whole.
                let inProgressEnd = stream.ends.first(where: { $0 >= first })!
                let startOfInProgress = stream.ends.last(where: { $0 < first }) ?? 0
                let fastUntil = inProgressEnd == first ? first : startOfInProgress + 1
                #expect(out == Self.expected(stream, fastUntil: fastUntil), "cuts \(first), \(second)")
                #expect(events == stream.events, "cuts \(first), \(second)")
            }
        }
    }

    @Test func rejectsABadLength() throws {
        var scanner = BackendStreamScanner()
        let buffer = ByteBuffer(bytes: [UInt8(ascii: "C"), 0, 0, 0, 2])
        #expect(throws: FrameError.self) {
            try scanner.relay(buffer, decide: { _, _ in .forward }, forward: { _ in })
        }
    }
}
