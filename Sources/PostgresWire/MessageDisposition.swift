/// What a relay does with one message of a stream it follows.
public enum MessageDisposition: Sendable, Equatable {
    case forward
    case drop
    /// Forward the message with this type byte instead of its own (the payload is unchanged).
    case translate(to: UInt8)
}
