/// The SQLSTATE codes the proxy reports itself. Values from PostgreSQL's errcodes.txt.
public struct SQLState: Hashable, Sendable, CustomStringConvertible {
    public let code: String
    public init(_ code: String) { self.code = code }
    public var description: String { self.code }

    public static let connectionFailure = SQLState("08006")
    public static let protocolViolation = SQLState("08P01")
    public static let invalidAuthorizationSpecification = SQLState("28000")
    public static let invalidPassword = SQLState("28P01")
    public static let invalidCatalogName = SQLState("3D000")
    public static let tooManyConnections = SQLState("53300")
    public static let cannotConnectNow = SQLState("57P03")
    public static let adminShutdown = SQLState("57P01")
    public static let queryCanceled = SQLState("57014")
    public static let featureNotSupported = SQLState("0A000")
    public static let insufficientPrivilege = SQLState("42501")
    public static let syntaxError = SQLState("42601")
    public static let idleInTransactionSessionTimeout = SQLState("25P03")
    public static let internalError = SQLState("XX000")
}
