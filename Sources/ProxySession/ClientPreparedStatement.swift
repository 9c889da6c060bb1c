import NIOCore

/// A named prepared statement of one client: the proxy's number for it and the Parse that creates it
/// under the proxy's name on a server connection that lacks it.
public struct ClientPreparedStatement: Sendable {
    public var number: Int
    public var parse: ByteBuffer
    /// Its session commands: they take effect where and whenever it is bound.
    public var effects: [SessionCommand]

    public init(number: Int, parse: ByteBuffer, effects: [SessionCommand] = []) {
        self.number = number
        self.parse = parse
        self.effects = effects
    }

    /// Stand for the unnamed statement and for a placeholder under a client's name in the response filter's
    /// bookkeeping (catalog numbers start at 1).
    public static let unnamed = -1
    public static let placeholder = -2
}
