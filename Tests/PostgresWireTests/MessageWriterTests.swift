import NIOCore
import Testing
@testable import PostgresWire

/// Holds a writer so that closures inside `#expect` can use it without `inout`.
private final class WriterBox {
    var writer = MessageWriter(buffer: ByteBufferAllocator().buffer(capacity: 0))
}

/// Runs `write` on a fresh writer and returns the bytes written.
private func written(_ write: (WriterBox) -> Void) -> [UInt8] {
    let box = WriterBox()
    write(box)
    return box.writer.buffer.bytes
}

/// A regular message: type byte, Int32 length counting itself, payload.
private func message(_ id: Character, _ payload: [UInt8]) -> [UInt8] {
    [id.asciiValue!] + uint32(UInt32(payload.count + 4)) + payload
}

@Suite struct MessageWriterTests {
    // MARK: Backend messages

    @Test func errorResponseWithAllFields() {
        let error = ErrorFields(
            severity: "FATAL", sqlState: .invalidPassword, message: "password authentication failed",
            detail: "no such role", hint: "check the user name"
        )
        let expected = message(
            "E",
            ascii("S") + cString("FATAL") + ascii("V") + cString("FATAL") + ascii("C") + cString("28P01")
                + ascii("M") + cString("password authentication failed") + ascii("D") + cString("no such role")
                + ascii("H") + cString("check the user name") + [0]
        )
        #expect(written { $0.writer.writeError(error) } == expected)
    }

    @Test func errorResponseWithoutDetailOrHint() {
        let bytes = written { $0.writer.writeError(.error(.syntaxError, "oops")) }
        let payload = ascii("S") + cString("ERROR") + ascii("V") + cString("ERROR") + ascii("C")
            + cString("42601") + ascii("M") + cString("oops") + [0]
        #expect(bytes == message("E", payload))
        #expect(bytes.count == 1 + 4 + payload.count)
    }

    @Test func noticeResponseUsesN() {
        let notice = ErrorFields(severity: "WARNING", sqlState: SQLState("01000"), message: "hm")
        #expect(written { $0.writer.writeNotice(notice) }.first == UInt8(ascii: "N"))
        let asNotice = written { $0.writer.writeNotice(notice) }
        let asError = written { $0.writer.writeError(notice) }
        #expect(asNotice.dropFirst() == asError.dropFirst())
    }

    @Test func authenticationOkAndCleartext() {
        #expect(written { $0.writer.writeAuthenticationOk() } == message("R", uint32(0)))
        #expect(written { $0.writer.writeAuthenticationCleartextPassword() } == message("R", uint32(3)))
    }

    @Test func authenticationMD5CarriesTheSalt() {
        let bytes = written { $0.writer.writeAuthenticationMD5Password(salt: (0xDE, 0xAD, 0xBE, 0xEF)) }
        #expect(bytes == message("R", uint32(5) + [0xDE, 0xAD, 0xBE, 0xEF]))
        #expect(bytes.count == 13)
    }

    @Test func authenticationSASLListsMechanismsAndEndsWithNUL() {
        let bytes = written { $0.writer.writeAuthenticationSASL(mechanisms: ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]) }
        #expect(bytes == message("R", uint32(10) + cString("SCRAM-SHA-256-PLUS") + cString("SCRAM-SHA-256") + [0]))
        #expect(bytes.suffix(2) == [0, 0])
    }

    @Test func authenticationSASLContinueAndFinal() {
        let data = Array("r=abc,s=c2FsdA==,i=4096".utf8)
        #expect(written { $0.writer.writeAuthenticationSASLContinue(data) } == message("R", uint32(11) + data))
        let final = Array("v=xyz".utf8)
        #expect(written { $0.writer.writeAuthenticationSASLFinal(final) } == message("R", uint32(12) + final))
    }

    @Test func parameterStatus() {
        #expect(
            written { $0.writer.writeParameterStatus(name: "server_version", value: "15.4") }
                == message("S", cString("server_version") + cString("15.4"))
        )
    }

    @Test func backendKeyData() {
        let key = BackendKey(processID: 0x0102_0304, secretKey: -2)
        #expect(written { $0.writer.writeBackendKeyData(key) } == message("K", int32(0x0102_0304) + int32(-2)))
    }

    @Test(arguments: [(.idle, "I"), (.inTransaction, "T"), (.failed, "E")] as [(TransactionStatus, Character)])
    func readyForQuery(status: TransactionStatus, letter: Character) {
        #expect(written { $0.writer.writeReadyForQuery(status) } == [0x5A, 0, 0, 0, 5, letter.asciiValue!])
    }

    @Test func negotiateProtocolVersion() {
        let bytes = written {
            $0.writer.writeNegotiateProtocolVersion(newestMinor: 0, unsupportedOptions: ["_pq_.a", "_pq_.b"])
        }
        #expect(bytes == message("v", uint32(0) + uint32(2) + cString("_pq_.a") + cString("_pq_.b")))
        #expect(written { $0.writer.writeNegotiateProtocolVersion(newestMinor: 0, unsupportedOptions: []) }
            == message("v", uint32(0) + uint32(0)))
    }

    @Test func rowDescriptionOfTextColumns() {
        let field: (String) -> [UInt8] = {
            cString($0) + uint32(0) + int16(0) + uint32(25) + int16(-1) + int32(-1) + int16(0)
        }
        let expected = message("T", int16(2) + field("name") + field("ß"))
        #expect(written { $0.writer.writeRowDescription(columns: ["name", "ß"]) } == expected)
        #expect(written { $0.writer.writeRowDescription(columns: []) } == message("T", int16(0)))
    }

    @Test func dataRowWithNullAndUTF8() {
        let bytes = written { $0.writer.writeDataRow(["a", nil, "", "é"]) }
        let payload = int16(4) + int32(1) + Array("a".utf8) + int32(-1) + int32(0) + int32(2) + Array("é".utf8)
        #expect(bytes == message("D", payload))
    }

    @Test func commandCompleteAndEmptyQuery() {
        #expect(written { $0.writer.writeCommandComplete("SHOW") } == message("C", cString("SHOW")))
        #expect(written { $0.writer.writeEmptyQueryResponse() } == [0x49, 0, 0, 0, 4])
    }

    @Test func messagesAppendAfterExistingBytes() {
        var writer = MessageWriter(buffer: ByteBuffer(bytes: [7, 7, 7]))
        writer.writeCommandComplete("SET")
        writer.writeReadyForQuery(.idle)
        #expect(writer.buffer.bytes == [7, 7, 7] + message("C", cString("SET")) + message("Z", ascii("I")))
    }

    @Test func everyWrittenMessageIsOneValidFrame() throws {
        let bytes = written {
            $0.writer.writeError(.fatal(.tooManyConnections, "too many", hint: "later"))
            $0.writer.writeAuthenticationSASL(mechanisms: ["SCRAM-SHA-256"])
            $0.writer.writeDataRow([nil])
            $0.writer.writeQuery("SELECT 1")
            $0.writer.writeTerminate()
        }
        let buffer = ByteBuffer(bytes: bytes)
        var index = 0
        var ids: [UInt8] = []
        while let frame = try buffer.peekFrame(at: index) {
            ids.append(frame.id)
            index += frame.totalLength
        }
        #expect(index == bytes.count)
        #expect(ids == Array("ERDQX".utf8))
    }

    // MARK: Frontend messages

    @Test func startupMessage() {
        let bytes = written { $0.writer.writeStartupMessage(parameters: [("user", "app"), ("database", "shop")]) }
        let body = uint32(196_608) + cString("user") + cString("app") + cString("database") + cString("shop") + [0]
        #expect(bytes == uint32(UInt32(4 + body.count)) + body)
        var buffer = ByteBuffer(bytes: bytes)
        let decoded = try? StartupRequest.decode(from: &buffer)
        #expect(decoded == .startup(StartupMessage(parameters: [("user", "app"), ("database", "shop")])))
    }

    @Test func startupMessageWithoutParameters() {
        #expect(written { $0.writer.writeStartupMessage(parameters: []) } == uint32(9) + uint32(196_608) + [0])
    }

    @Test func cancelRequest() throws {
        let bytes = written { $0.writer.writeCancelRequest(BackendKey(processID: 77, secretKey: Int32.min)) }
        #expect(bytes == uint32(16) + uint32(80_877_102) + int32(77) + int32(Int32.min))
        var buffer = ByteBuffer(bytes: bytes)
        #expect(try StartupRequest.decode(from: &buffer) == .cancel(BackendKey(processID: 77, secretKey: Int32.min)))
    }

    @Test func query() {
        #expect(written { $0.writer.writeQuery("SELECT 'ü'") } == message("Q", cString("SELECT 'ü'")))
    }

    @Test func passwordMessage() {
        #expect(written { $0.writer.writePasswordMessage("md5abc") } == message("p", cString("md5abc")))
    }

    @Test func saslInitialResponse() {
        let data = Array("n,,n=,r=nonce".utf8)
        let bytes = written { $0.writer.writeSASLInitialResponse(mechanism: "SCRAM-SHA-256", data: data) }
        #expect(bytes == message("p", cString("SCRAM-SHA-256") + int32(Int32(data.count)) + data))
        let empty = written { $0.writer.writeSASLInitialResponse(mechanism: "X", data: []) }
        #expect(empty == message("p", cString("X") + int32(0)))
    }

    @Test func saslResponse() {
        let data = Array("c=biws,r=nonce,p=proof".utf8)
        #expect(written { $0.writer.writeSASLResponse(data) } == message("p", data))
    }

    @Test func terminate() {
        #expect(written { $0.writer.writeTerminate() } == [0x58, 0, 0, 0, 4])
    }
}
