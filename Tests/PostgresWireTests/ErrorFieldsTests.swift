import NIOCore
import Testing
@testable import PostgresWire

/// Writes `fields` as an ErrorResponse and decodes its body back.
private func roundTrip(_ fields: ErrorFields) throws -> ErrorFields? {
    var writer = MessageWriter(buffer: ByteBuffer())
    writer.writeError(fields)
    var buffer = writer.buffer
    let frame = try #require(try buffer.peekFrame(at: 0))
    #expect(frame.totalLength == buffer.readableBytes)
    buffer.moveReaderIndex(forwardBy: 5)
    let decoded = ErrorFields.decode(from: &buffer)
    #expect(buffer.readableBytes == 0, "decode consumes the whole body")
    return decoded
}

@Suite struct ErrorFieldsTests {
    @Test(arguments: [
        ErrorFields.fatal(.invalidCatalogName, "database \"x\" does not exist"),
        ErrorFields.error(.featureNotSupported, "COPY is not supported", hint: "use INSERT"),
        ErrorFields(severity: "NOTICE", sqlState: SQLState("00000"), message: "", detail: "détail", hint: ""),
        ErrorFields(sqlState: .internalError, message: "x", detail: "multi\nline"),
    ])
    func encodeThenDecodeIsIdentity(fields: ErrorFields) throws {
        #expect(try roundTrip(fields) == fields)
    }

    @Test func decodeSkipsUnknownFieldsAndV() {
        var body = ByteBuffer(bytes:
            ascii("S") + cString("ERRORE") + ascii("V") + cString("ERROR") + ascii("C") + cString("23505")
            + ascii("M") + cString("duplicate key") + ascii("F") + cString("nbtinsert.c") + ascii("L")
            + cString("666") + ascii("n") + cString("users_pkey") + [0]
        )
        let fields = ErrorFields.decode(from: &body)
        #expect(fields == ErrorFields(severity: "ERRORE", sqlState: SQLState("23505"), message: "duplicate key"))
    }

    @Test func decodeOfAnUnterminatedValueIsNil() {
        var body = ByteBuffer(bytes: ascii("S") + cString("ERROR") + ascii("M") + Array("no end".utf8))
        #expect(ErrorFields.decode(from: &body) == nil)
    }

    @Test func conveniences() {
        let fatal = ErrorFields.fatal(.tooManyConnections, "sorry", hint: "later")
        #expect(fatal.severity == "FATAL")
        #expect(fatal.sqlState == "53300")
        #expect(fatal.hint == "later")
        #expect(fatal.detail == nil)
        #expect(ErrorFields.error(.queryCanceled, "stop").severity == "ERROR")
        #expect(fatal.description == "FATAL 53300: sorry")
    }

    @Test func sqlStateCodesMatchPostgreSQL() {
        let codes: [(SQLState, String)] = [
            (.connectionFailure, "08006"), (.protocolViolation, "08P01"), (.invalidAuthorizationSpecification, "28000"),
            (.invalidPassword, "28P01"), (.invalidCatalogName, "3D000"), (.tooManyConnections, "53300"),
            (.cannotConnectNow, "57P03"), (.adminShutdown, "57P01"), (.queryCanceled, "57014"),
            (.featureNotSupported, "0A000"), (.insufficientPrivilege, "42501"), (.syntaxError, "42601"),
            (.idleInTransactionSessionTimeout, "25P03"), (.internalError, "XX000"),
        ]
        for (state, code) in codes { #expect(state.code == code) }
    }
}
