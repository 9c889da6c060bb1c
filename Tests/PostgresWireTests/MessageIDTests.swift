import Testing
@testable import PostgresWire

@Suite struct MessageIDTests {
    @Test func validAfterStartupIsExactlyTheRegularFrontendMessages() {
        let expected = Set("BCDEFHPQSXdcf".utf8)
        for id in UInt8.min...UInt8.max {
            #expect(FrontendMessageID.isValidAfterStartup(id) == expected.contains(id), "id \(id)")
        }
    }

    @Test func passwordMessagesAreNotValidAfterStartup() {
        #expect(!FrontendMessageID.isValidAfterStartup(UInt8(ascii: "p")))
    }

    @Test func frontendIDsAreTheirLetters() {
        let ids: [(UInt8, Character)] = [
            (FrontendMessageID.bind, "B"), (FrontendMessageID.close, "C"), (FrontendMessageID.describe, "D"),
            (FrontendMessageID.execute, "E"), (FrontendMessageID.functionCall, "F"), (FrontendMessageID.flush, "H"),
            (FrontendMessageID.parse, "P"), (FrontendMessageID.query, "Q"), (FrontendMessageID.sync, "S"),
            (FrontendMessageID.terminate, "X"), (FrontendMessageID.copyData, "d"), (FrontendMessageID.copyDone, "c"),
            (FrontendMessageID.copyFail, "f"), (FrontendMessageID.password, "p"),
        ]
        for (id, letter) in ids { #expect(id == letter.asciiValue!, "\(letter)") }
    }

    @Test func backendIDsAreTheirLetters() {
        let ids: [(UInt8, Character)] = [
            (BackendMessageID.authentication, "R"), (BackendMessageID.backendKeyData, "K"),
            (BackendMessageID.bindComplete, "2"), (BackendMessageID.closeComplete, "3"),
            (BackendMessageID.commandComplete, "C"), (BackendMessageID.copyData, "d"),
            (BackendMessageID.copyDone, "c"), (BackendMessageID.copyInResponse, "G"),
            (BackendMessageID.copyOutResponse, "H"), (BackendMessageID.copyBothResponse, "W"),
            (BackendMessageID.dataRow, "D"), (BackendMessageID.emptyQueryResponse, "I"),
            (BackendMessageID.errorResponse, "E"), (BackendMessageID.functionCallResponse, "V"),
            (BackendMessageID.negotiateProtocolVersion, "v"), (BackendMessageID.noData, "n"),
            (BackendMessageID.noticeResponse, "N"), (BackendMessageID.notificationResponse, "A"),
            (BackendMessageID.parameterDescription, "t"), (BackendMessageID.parameterStatus, "S"),
            (BackendMessageID.parseComplete, "1"), (BackendMessageID.portalSuspended, "s"),
            (BackendMessageID.readyForQuery, "Z"), (BackendMessageID.rowDescription, "T"),
        ]
        for (id, letter) in ids { #expect(id == letter.asciiValue!, "\(letter)") }
    }

    @Test func transactionStatusLetters() {
        #expect(TransactionStatus(rawValue: UInt8(ascii: "I")) == .idle)
        #expect(TransactionStatus(rawValue: UInt8(ascii: "T")) == .inTransaction)
        #expect(TransactionStatus(rawValue: UInt8(ascii: "E")) == .failed)
        #expect(TransactionStatus(rawValue: UInt8(ascii: "X")) == nil)
    }
}
