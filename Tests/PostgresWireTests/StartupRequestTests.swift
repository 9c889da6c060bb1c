import NIOCore
import Testing
@testable import PostgresWire

/// Builds a startup packet: Int32 length (itself included), Int32 code, then `body`.
private func packet(code: UInt32, body: [UInt8] = []) -> [UInt8] {
    uint32(UInt32(8 + body.count)) + uint32(code) + body
}

/// The parameter area of a StartupMessage: name/value pairs and the final terminator.
private func parameterBytes(_ parameters: [(String, String)]) -> [UInt8] {
    parameters.flatMap { cString($0.0) + cString($0.1) } + [0]
}

private func startupPacket(_ parameters: [(String, String)], minor: UInt32 = 0) -> [UInt8] {
    packet(code: 3 << 16 | minor, body: parameterBytes(parameters))
}

private func decode(_ bytes: [UInt8]) throws(StartupDecodingError) -> StartupRequest? {
    var buffer = ByteBuffer(bytes: bytes)
    return try StartupRequest.decode(from: &buffer)
}

private func decodeStartup(_ bytes: [UInt8]) throws -> StartupMessage {
    guard case .startup(let message) = try #require(try decode(bytes)) else { throw NotAStartupMessage() }
    return message
}

private struct NotAStartupMessage: Error {}

private func pairs(_ message: StartupMessage) -> [String] {
    message.parameters.map { "\($0.name)=\($0.value)" }
}

@Suite struct StartupRequestTests {
    @Test func sslRequest() throws {
        #expect(try decode(packet(code: 80_877_103)) == .sslRequest)
    }

    @Test func gssEncryptionRequest() throws {
        #expect(try decode(packet(code: 80_877_104)) == .gssEncryptionRequest)
    }

    @Test func cancelRequestCarriesProcessIDAndSecret() throws {
        let bytes = packet(code: 80_877_102, body: int32(4242) + int32(-7))
        #expect(bytes.count == 16)
        #expect(try decode(bytes) == .cancel(BackendKey(processID: 4242, secretKey: -7)))
    }

    @Test(arguments: [0, 4, 12])
    func cancelRequestOfTheWrongSizeThrows(bodyLength: Int) {
        let bytes = packet(code: 80_877_102, body: Array(repeating: 1, count: bodyLength))
        #expect(throws: StartupDecodingError.malformed("CancelRequest must be 16 bytes")) { try decode(bytes) }
    }

    @Test func startupMessageWithTheUsualParameters() throws {
        let message = try decodeStartup(startupPacket([
            ("user", "alice"), ("database", "shop"), ("application_name", "psql"), ("options", "-c geqo=off"),
        ]))
        #expect(message.minorVersion == 0)
        #expect(pairs(message) == ["user=alice", "database=shop", "application_name=psql", "options=-c geqo=off"])
        #expect(message.protocolOptions.isEmpty)
        #expect(message.user == "alice")
        #expect(message.database == "shop")
        #expect(message["application_name"] == "psql")
        #expect(message["options"] == "-c geqo=off")
        #expect(message["client_encoding"] == nil)
    }

    @Test func databaseDefaultsToUser() throws {
        let message = try decodeStartup(startupPacket([("user", "bob")]))
        #expect(message.user == "bob")
        #expect(message.database == "bob")
    }

    @Test func noParametersAtAll() throws {
        let message = try decodeStartup(startupPacket([]))
        #expect(message.parameters.isEmpty)
        #expect(message.user == nil)
        #expect(message.database == nil)
    }

    /// PostgreSQL (ProcessStartupPacket): `if (database_name == NULL || database_name[0] == '\0')` it uses the
    /// user name, so an empty `database` parameter means "the user's database".
    @Test func emptyDatabaseDefaultsToUserLikePostgreSQL() throws {
        let message = try decodeStartup(startupPacket([("user", "bob"), ("database", "")]))
        #expect(message.database == "bob")
    }

    /// PostgreSQL keeps the last occurrence of `user` and `database` (each one overwrites the previous), so
    /// the proxy must authenticate and route the same user the server will see.
    @Test func repeatedUserAndDatabaseTakeTheLastValueLikePostgreSQL() throws {
        let message = try decodeStartup(startupPacket([
            ("user", "alice"), ("database", "a"), ("user", "mallory"), ("database", "b"),
        ]))
        #expect(message.user == "mallory")
        #expect(message.database == "b")
    }

    @Test func protocolOptionsAreCollectedApart() throws {
        let message = try decodeStartup(startupPacket([
            ("user", "alice"), ("_pq_.compression", "on"), ("database", "shop"), ("_pq_.other", ""),
        ]))
        #expect(pairs(message) == ["user=alice", "database=shop"])
        #expect(message.protocolOptions == ["_pq_.compression", "_pq_.other"])
    }

    @Test func newerMinorVersionIsKept() throws {
        let message = try decodeStartup(startupPacket([("user", "alice")], minor: 2))
        #expect(message.minorVersion == 2)
        #expect(message.user == "alice")
    }

    @Test func utf8ParameterValues() throws {
        let message = try decodeStartup(startupPacket([("user", "zoë"), ("application_name", "日本")]))
        #expect(message.user == "zoë")
        #expect(message["application_name"] == "日本")
    }

    @Test func incompleteInputReturnsNilAndConsumesNothing() throws {
        let packets = [
            packet(code: 80_877_103),
            packet(code: 80_877_102, body: int32(1) + int32(2)),
            startupPacket([("user", "alice"), ("database", "shop")]),
        ]
        for bytes in packets {
            var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
            for (index, byte) in bytes.enumerated() {
                buffer.writeInteger(byte)
                let readerIndex = buffer.readerIndex
                let result = try StartupRequest.decode(from: &buffer)
                if index < bytes.count - 1 {
                    #expect(result == nil, "after \(index + 1) of \(bytes.count) bytes")
                    #expect(buffer.readerIndex == readerIndex)
                } else {
                    #expect(result != nil)
                    #expect(buffer.readableBytes == 0)
                }
            }
        }
    }

    @Test func decodesOnlyItsOwnPacketAndLeavesWhatFollows() throws {
        var buffer = ByteBuffer(bytes: packet(code: 80_877_103) + [0x16, 0x03, 0x01])
        #expect(try StartupRequest.decode(from: &buffer) == .sslRequest)
        #expect(buffer.bytes == [0x16, 0x03, 0x01])
    }

    @Test func decodesAtANonZeroReaderIndex() throws {
        var buffer = ByteBuffer(bytes: [9, 9] + packet(code: 80_877_104))
        buffer.moveReaderIndex(forwardBy: 2)
        #expect(try StartupRequest.decode(from: &buffer) == .gssEncryptionRequest)
        #expect(buffer.readableBytes == 0)
    }

    @Test(arguments: [UInt32(0), 4, 7, 10_001, 0x7FFF_FFFF, 0xFFFF_FFFF])
    func invalidLengthThrowsAsSoonAsTheLengthIsKnown(length: UInt32) {
        var buffer = ByteBuffer(bytes: uint32(length))
        #expect(throws: StartupDecodingError.invalidLength(Int(length))) {
            try StartupRequest.decode(from: &buffer)
        }
    }

    @Test func lengthBoundsAreInclusive() throws {
        // 8: the smallest packet (SSLRequest); 10000: the largest PostgreSQL accepts.
        #expect(try decode(packet(code: 80_877_103)) == .sslRequest)
        let filler = String(repeating: "x", count: 10_000 - 8 - 5 - 1 - 1)
        let bytes = startupPacket([("user", filler)])
        #expect(bytes.count == 10_000)
        #expect(try decodeStartup(bytes).user == filler)
    }

    @Test func unterminatedParameterNameThrows() {
        let bytes = packet(code: 3 << 16, body: Array("user".utf8))
        #expect(throws: StartupDecodingError.malformed("unterminated parameter name in startup packet")) {
            try decode(bytes)
        }
    }

    @Test func missingFinalTerminatorThrows() {
        let bytes = packet(code: 3 << 16, body: cString("user") + cString("alice"))
        #expect(throws: StartupDecodingError.malformed("unterminated parameter name in startup packet")) {
            try decode(bytes)
        }
    }

    @Test func unterminatedParameterValueThrows() {
        let bytes = packet(code: 3 << 16, body: cString("user") + Array("alice".utf8))
        #expect(throws: StartupDecodingError.malformed("unterminated value for startup parameter \"user\"")) {
            try decode(bytes)
        }
    }

    @Test func trailingBytesAfterTheTerminatorThrow() {
        let bytes = packet(code: 3 << 16, body: parameterBytes([("user", "alice")]) + [0x41])
        #expect(throws: StartupDecodingError.malformed("trailing bytes after startup parameters")) {
            try decode(bytes)
        }
    }

    @Test(arguments: [
        (2 << 16, 2, 0), (4 << 16, 4, 0), (4 << 16 | 1, 4, 1), (1234 << 16 | 5677, 1234, 5677),
    ] as [(UInt32, UInt16, UInt16)])
    func otherProtocolVersionsThrow(code: UInt32, major: UInt16, minor: UInt16) {
        let bytes = packet(code: code, body: parameterBytes([("user", "alice")]))
        #expect(throws: StartupDecodingError.unsupportedProtocol(major: major, minor: minor)) { try decode(bytes) }
    }

    @Test func errorDescriptionsNameTheProblem() {
        #expect(StartupDecodingError.invalidLength(3).description == "invalid length of startup packet: 3")
        #expect(
            StartupDecodingError.unsupportedProtocol(major: 2, minor: 0).description
                == "unsupported frontend protocol 2.0: server supports 3.0 to 3.0"
        )
    }
}
