/// First byte of every regular protocol-3.0 message sent by a client (frontend).
public enum FrontendMessageID {
    public static let bind: UInt8 = 0x42            // B
    public static let close: UInt8 = 0x43           // C
    public static let describe: UInt8 = 0x44        // D
    public static let execute: UInt8 = 0x45         // E
    public static let functionCall: UInt8 = 0x46    // F
    public static let flush: UInt8 = 0x48           // H
    public static let parse: UInt8 = 0x50           // P
    public static let query: UInt8 = 0x51           // Q
    public static let sync: UInt8 = 0x53            // S
    public static let terminate: UInt8 = 0x58       // X
    public static let copyData: UInt8 = 0x64        // d
    public static let copyDone: UInt8 = 0x63        // c
    public static let copyFail: UInt8 = 0x66        // f
    /// PasswordMessage, SASLInitialResponse and SASLResponse all use 'p'.
    public static let password: UInt8 = 0x70        // p

    /// Whether `id` is a message a client may send once the session is established.
    @inlinable
    public static func isValidAfterStartup(_ id: UInt8) -> Bool {
        switch id {
        case bind, close, describe, execute, functionCall, flush, parse, query, sync, terminate,
             copyData, copyDone, copyFail:
            return true
        default:
            return false
        }
    }
}

/// First byte of every message a server (backend) sends.
public enum BackendMessageID {
    public static let authentication: UInt8 = 0x52  // R
    public static let backendKeyData: UInt8 = 0x4B  // K
    public static let bindComplete: UInt8 = 0x32    // 2
    public static let closeComplete: UInt8 = 0x33   // 3
    public static let commandComplete: UInt8 = 0x43 // C
    public static let copyData: UInt8 = 0x64        // d
    public static let copyDone: UInt8 = 0x63        // c
    public static let copyInResponse: UInt8 = 0x47  // G
    public static let copyOutResponse: UInt8 = 0x48 // H
    public static let copyBothResponse: UInt8 = 0x57 // W
    public static let dataRow: UInt8 = 0x44         // D
    public static let emptyQueryResponse: UInt8 = 0x49 // I
    public static let errorResponse: UInt8 = 0x45   // E
    public static let functionCallResponse: UInt8 = 0x56 // V
    public static let negotiateProtocolVersion: UInt8 = 0x76 // v
    public static let noData: UInt8 = 0x6E          // n
    public static let noticeResponse: UInt8 = 0x4E  // N
    public static let notificationResponse: UInt8 = 0x41 // A
    public static let parameterDescription: UInt8 = 0x74 // t
    public static let parameterStatus: UInt8 = 0x53 // S
    public static let parseComplete: UInt8 = 0x31   // 1
    public static let portalSuspended: UInt8 = 0x73 // s
    public static let readyForQuery: UInt8 = 0x5A   // Z
    public static let rowDescription: UInt8 = 0x54  // T
}

/// Transaction status carried by ReadyForQuery.
public enum TransactionStatus: UInt8, Sendable {
    case idle = 0x49            // I
    case inTransaction = 0x54   // T
    case failed = 0x45          // E
}
