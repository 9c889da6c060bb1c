import NIOCore
import PostgresWire
import Testing
@testable import ProxySession

/// `learnSearchPath`: after the login, `SHOW search_path`, whose one value comes with `.ready`.
@Suite struct ServerStartupSearchPathTests {
    private func loggedIn(learn: Bool) -> ServerStartupStateMachine {
        var sm = ServerStartupStateMachine(login: .init(
            user: "alice", password: nil, database: "app", parameters: [], learnSearchPath: learn
        ))
        _ = sm.connected()
        _ = sm.received(BackendMessageID.authentication, payload: Payload().uint32(0).buffer)
        _ = sm.received(BackendMessageID.parameterStatus,
                        payload: Payload().cstring("server_version").cstring("15.8").buffer)
        _ = sm.received(BackendMessageID.backendKeyData, payload: Payload().int32(7).int32(8).buffer)
        return sm
    }

    private let readyForQuery = Payload().byte(TransactionStatus.idle.rawValue).buffer
    private let rowDescription = Payload().raw([0, 1]).cstring("search_path").int32(0).raw([0, 0]).int32(25)
        .raw([0xFF, 0xFF]).int32(-1).raw([0, 0]).buffer
    private let commandComplete = Payload().cstring("SHOW").buffer

    private func dataRow(_ value: String?) -> ByteBuffer {
        guard let value else { return Payload().raw([0, 1]).int32(-1).buffer }
        return Payload().raw([0, 1]).int32(Int32(value.utf8.count)).raw(Array(value.utf8)).buffer
    }

    @Test func learnsTheServersSearchPathBeforeItIsReady() {
        var sm = self.loggedIn(learn: true)
        #expect(sm.received(BackendMessageID.readyForQuery, payload: self.readyForQuery)
            == .send(.query("SHOW search_path")))
        #expect(sm.received(BackendMessageID.rowDescription, payload: self.rowDescription) == .wait)
        #expect(sm.received(BackendMessageID.dataRow, payload: self.dataRow("\"$user\", public")) == .wait)
        #expect(sm.received(BackendMessageID.commandComplete, payload: self.commandComplete) == .wait)
        #expect(sm.received(BackendMessageID.readyForQuery, payload: self.readyForQuery) == .ready(
            parameters: [ServerParameter(name: "server_version", value: "15.8")],
            backendKey: BackendKey(processID: 7, secretKey: 8), searchPath: "\"$user\", public"
        ))
    }

    @Test func withoutLearningReadyComesAtOnceWithNoSearchPath() {
        var sm = self.loggedIn(learn: false)
        #expect(sm.received(BackendMessageID.readyForQuery, payload: self.readyForQuery) == .ready(
            parameters: [ServerParameter(name: "server_version", value: "15.8")],
            backendKey: BackendKey(processID: 7, secretKey: 8)
        ))
        var again = self.loggedIn(learn: false)
        if case .fail(.protocolViolation) = again.received(BackendMessageID.dataRow, payload: self.dataRow("x")) {
        } else {
            Issue.record("a row accepted during a login that asked nothing")
        }
    }

    @Test func anErrorOrAMissingRowFailsTheLogin() {
        var sm = self.loggedIn(learn: true)
        _ = sm.received(BackendMessageID.readyForQuery, payload: self.readyForQuery)
        let error = Payload().byte(UInt8(ascii: "S")).cstring("ERROR").byte(UInt8(ascii: "C")).cstring("42501")
            .byte(UInt8(ascii: "M")).cstring("denied").byte(0).buffer
        guard case .fail(.serverError(let fields)) = sm.received(BackendMessageID.errorResponse, payload: error) else {
            Issue.record("an ErrorResponse to SHOW search_path did not fail the login")
            return
        }
        #expect(fields.sqlState == "42501")

        var noRow = self.loggedIn(learn: true)
        _ = noRow.received(BackendMessageID.readyForQuery, payload: self.readyForQuery)
        _ = noRow.received(BackendMessageID.commandComplete, payload: self.commandComplete)
        #expect(noRow.received(BackendMessageID.readyForQuery, payload: self.readyForQuery)
            == .fail(.protocolViolation("SHOW search_path returned no row")))

        for malformed in [self.dataRow(nil), Payload().raw([0, 2]).int32(1).raw([0x61]).int32(0).buffer] {
            var sm = self.loggedIn(learn: true)
            _ = sm.received(BackendMessageID.readyForQuery, payload: self.readyForQuery)
            #expect(sm.received(BackendMessageID.dataRow, payload: malformed)
                == .fail(.protocolViolation("malformed row for SHOW search_path")))
        }

        var twoRows = self.loggedIn(learn: true)
        _ = twoRows.received(BackendMessageID.readyForQuery, payload: self.readyForQuery)
        _ = twoRows.received(BackendMessageID.dataRow, payload: self.dataRow("a"))
        if case .fail(.protocolViolation) = twoRows.received(BackendMessageID.dataRow, payload: self.dataRow("b")) {
        } else {
            Issue.record("a second row accepted")
        }
    }
}
