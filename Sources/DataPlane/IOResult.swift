/// What one non-blocking receive or send did.
public enum IOResult: Equatable, Sendable {
    /// This many bytes moved (more than zero).
    case bytes(Int)
    /// The kernel had nothing to give, or no room to take: wait for the next readiness event.
    case wouldBlock
    /// The peer closed its side (a receive of 0 bytes).
    case closed
    /// The socket failed; the value is errno.
    case failed(CInt)
}
