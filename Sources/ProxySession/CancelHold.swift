/// Keeps a server connection out of the pool while a cancel for it is in flight, as PgBouncer does. A cancel
/// is a separate connection to the server, so it arrives some time after the proxy chose the server
/// connection; if the client's statement ended meanwhile and the connection went to another client, the
/// cancel would hit that client's statement. So a release that comes while cancels are in flight waits until
/// the server has handled them all (it closes the cancel connection after signalling the backend; a backend
/// signalled between statements ignores it).
public struct CancelHold: Sendable, Equatable {
    /// Cancels sent to this connection's backend and not yet answered by the server closing them.
    public private(set) var inFlight = 0
    /// A release that came while cancels were in flight: whether the connection was reusable then.
    public private(set) var heldRelease: Bool?

    public init() {}

    public mutating func cancelStarted() {
        self.inFlight += 1
    }

    /// The connection is released by its client: true when the release must wait for the cancels in flight
    /// (it is then carried out by `cancelFinished`).
    public mutating func releaseRequested(reusable: Bool) -> Bool {
        guard self.inFlight > 0 else { return false }
        // Two releases cannot be held at once (the connection is lent to one client at a time), but a held
        // one that is not reusable stays so.
        self.heldRelease = (self.heldRelease ?? true) && reusable
        return true
    }

    /// A cancel is done (the server closed its connection, or it could not be sent): the release to carry
    /// out now (with whether the connection is reusable), if one was waiting for the last cancel.
    public mutating func cancelFinished() -> Bool? {
        if self.inFlight > 0 { self.inFlight -= 1 }
        guard self.inFlight == 0, let reusable = self.heldRelease else { return nil }
        self.heldRelease = nil
        return reusable
    }
}
