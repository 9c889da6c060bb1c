/// Bounds the proxy enforces on what peers send; larger values are treated as malformed protocol.
public enum ProtocolLimits {
    /// PostgreSQL itself refuses messages above 1 GiB (PQ_LARGE_MESSAGE_LIMIT is 1 GiB - 1).
    public static let maxMessageLength = 1 << 30
    /// A startup packet is small; PostgreSQL caps it at 10000 bytes (MAX_STARTUP_PACKET_LENGTH).
    public static let maxStartupPacketLength = 10_000
    /// A password, SASL or GSS message before login; PostgreSQL caps it at 65535 bytes (PG_MAX_AUTH_TOKEN_LENGTH).
    /// Checked on the length field, before the body is buffered: an unauthenticated peer cannot make the proxy
    /// hold more than this.
    public static let maxAuthenticationMessageLength = 65_535
}
