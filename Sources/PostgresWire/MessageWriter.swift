import NIOCore

/// Appends protocol messages to a ByteBuffer. Only the messages the proxy writes itself live here;
/// everything else is relayed as raw frames.
public struct MessageWriter {
    public var buffer: ByteBuffer

    public init(buffer: ByteBuffer) {
        self.buffer = buffer
    }

    /// Writes a type byte and a length placeholder, lets `body` write the payload, then fills in the length.
    @inlinable
    public mutating func writeMessage(_ id: UInt8, _ body: (inout ByteBuffer) -> Void) {
        self.buffer.writeInteger(id)
        let lengthIndex = self.buffer.writerIndex
        self.buffer.writeInteger(UInt32(0))
        body(&self.buffer)
        self.buffer.setInteger(UInt32(self.buffer.writerIndex - lengthIndex), at: lengthIndex)
    }

    // MARK: Backend messages (proxy -> client)

    public mutating func writeError(_ error: ErrorFields) {
        self.writeMessage(BackendMessageID.errorResponse) { error.write(to: &$0) }
    }

    public mutating func writeNotice(_ notice: ErrorFields) {
        self.writeMessage(BackendMessageID.noticeResponse) { notice.write(to: &$0) }
    }

    public mutating func writeAuthenticationOk() { self.writeAuthentication(code: 0) }
    public mutating func writeAuthenticationCleartextPassword() { self.writeAuthentication(code: 3) }

    public mutating func writeAuthenticationMD5Password(salt: (UInt8, UInt8, UInt8, UInt8)) {
        self.writeMessage(BackendMessageID.authentication) {
            $0.writeInteger(UInt32(5))
            $0.writeMultipleIntegers(salt.0, salt.1, salt.2, salt.3)
        }
    }

    public mutating func writeAuthenticationSASL(mechanisms: [String]) {
        self.writeMessage(BackendMessageID.authentication) {
            $0.writeInteger(UInt32(10))
            for mechanism in mechanisms { $0.writeNullTerminatedString(mechanism) }
            $0.writeInteger(UInt8(0))
        }
    }

    public mutating func writeAuthenticationSASLContinue(_ data: [UInt8]) {
        self.writeMessage(BackendMessageID.authentication) {
            $0.writeInteger(UInt32(11))
            $0.writeBytes(data)
        }
    }

    public mutating func writeAuthenticationSASLFinal(_ data: [UInt8]) {
        self.writeMessage(BackendMessageID.authentication) {
            $0.writeInteger(UInt32(12))
            $0.writeBytes(data)
        }
    }

    private mutating func writeAuthentication(code: UInt32) {
        self.writeMessage(BackendMessageID.authentication) { $0.writeInteger(code) }
    }

    public mutating func writeParameterStatus(name: String, value: String) {
        self.writeMessage(BackendMessageID.parameterStatus) {
            $0.writeNullTerminatedString(name)
            $0.writeNullTerminatedString(value)
        }
    }

    public mutating func writeBackendKeyData(_ key: BackendKey) {
        self.writeMessage(BackendMessageID.backendKeyData) {
            $0.writeInteger(key.processID)
            $0.writeInteger(key.secretKey)
        }
    }

    public mutating func writeReadyForQuery(_ status: TransactionStatus) {
        self.writeMessage(BackendMessageID.readyForQuery) { $0.writeInteger(status.rawValue) }
    }

    public mutating func writeNegotiateProtocolVersion(newestMinor: UInt32, unsupportedOptions: [String]) {
        self.writeMessage(BackendMessageID.negotiateProtocolVersion) {
            $0.writeInteger(newestMinor)
            $0.writeInteger(UInt32(unsupportedOptions.count))
            for option in unsupportedOptions { $0.writeNullTerminatedString(option) }
        }
    }

    public mutating func writeRowDescription(columns: [String]) {
        self.writeMessage(BackendMessageID.rowDescription) {
            $0.writeInteger(UInt16(columns.count))
            for column in columns {
                $0.writeNullTerminatedString(column)
                // table oid, column number, type oid (25 = text), type size, type modifier, format (text)
                $0.writeInteger(UInt32(0))
                $0.writeInteger(UInt16(0))
                $0.writeInteger(UInt32(25))
                $0.writeInteger(Int16(-1))
                $0.writeInteger(Int32(-1))
                $0.writeInteger(UInt16(0))
            }
        }
    }

    public mutating func writeDataRow(_ values: [String?]) {
        self.writeMessage(BackendMessageID.dataRow) {
            $0.writeInteger(UInt16(values.count))
            for value in values {
                if let value {
                    $0.writeInteger(Int32(value.utf8.count))
                    $0.writeString(value)
                } else {
                    $0.writeInteger(Int32(-1))
                }
            }
        }
    }

    public mutating func writeCommandComplete(_ tag: String) {
        self.writeMessage(BackendMessageID.commandComplete) { $0.writeNullTerminatedString(tag) }
    }

    public mutating func writeEmptyQueryResponse() {
        self.writeMessage(BackendMessageID.emptyQueryResponse) { _ in }
    }

    // MARK: Frontend messages (proxy -> server)

    public mutating func writeStartupMessage(parameters: [(name: String, value: String)]) {
        let lengthIndex = self.buffer.writerIndex
        self.buffer.writeInteger(UInt32(0))
        self.buffer.writeInteger(UInt32(3 << 16))
        for (name, value) in parameters {
            self.buffer.writeNullTerminatedString(name)
            self.buffer.writeNullTerminatedString(value)
        }
        self.buffer.writeInteger(UInt8(0))
        self.buffer.setInteger(UInt32(self.buffer.writerIndex - lengthIndex), at: lengthIndex)
    }

    /// SSLRequest: asks the server for TLS before the StartupMessage or CancelRequest.
    public mutating func writeSSLRequest() {
        self.buffer.writeInteger(UInt32(8))
        self.buffer.writeInteger(StartupRequest.sslRequestCode)
    }

    public mutating func writeCancelRequest(_ key: BackendKey) {
        self.buffer.writeInteger(UInt32(16))
        self.buffer.writeInteger(StartupRequest.cancelRequestCode)
        self.buffer.writeInteger(key.processID)
        self.buffer.writeInteger(key.secretKey)
    }

    public mutating func writeQuery(_ sql: String) {
        self.writeMessage(FrontendMessageID.query) { $0.writeNullTerminatedString(sql) }
    }

    /// PasswordMessage (cleartext or md5 response): the password string, NUL-terminated.
    public mutating func writePasswordMessage(_ password: String) {
        self.writeMessage(FrontendMessageID.password) { $0.writeNullTerminatedString(password) }
    }

    public mutating func writeSASLInitialResponse(mechanism: String, data: [UInt8]) {
        self.writeMessage(FrontendMessageID.password) {
            $0.writeNullTerminatedString(mechanism)
            $0.writeInteger(Int32(data.count))
            $0.writeBytes(data)
        }
    }

    public mutating func writeSASLResponse(_ data: [UInt8]) {
        self.writeMessage(FrontendMessageID.password) { $0.writeBytes(data) }
    }

    public mutating func writeTerminate() {
        self.writeMessage(FrontendMessageID.terminate) { _ in }
    }
}
