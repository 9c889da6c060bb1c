/// What an event loop calls when a registered descriptor is ready. Called on the loop's thread only.
public protocol EventHandler: AnyObject {
    /// `events` holds `EventLoop.readable`, `.writable`, `.hangup`, `.error` bits (several may be set at once).
    func handle(_ events: UInt32, on loop: EventLoop)
}
