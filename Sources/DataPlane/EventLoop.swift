#if canImport(Glibc)
import Glibc
#endif
import CEventShim
import Synchronization

/// One thread's event loop: level-triggered epoll over non-blocking sockets, a timer heap, and a mailbox that other
/// threads post work to (woken through an eventfd).
///
/// Built for the relay's hot path:
/// - handlers are found by slot in a flat table and called through an unowned(unsafe) reference: no reference count
///   is touched per event (the loop keeps each handler alive in a parallel table until it is deregistered);
/// - every handler reads into `readBuffer`, one 64 KiB buffer per loop, so a connection owns no read buffer;
/// - nothing here takes a lock except `execute(_:)` from another thread, and the loop draining the mailbox.
///
/// Everything but `execute(_:)`, `stop()` and `isInLoop` must be called on the loop's own thread.
public final class EventLoop: @unchecked Sendable {
    public static let readable = SPX_EVENT_READABLE
    public static let writable = SPX_EVENT_WRITABLE
    public static let hangup = SPX_EVENT_HANGUP
    public static let error = SPX_EVENT_ERROR

    /// A registration: its slot in the table and the slot's generation, so an event for a descriptor deregistered
    /// earlier in the same batch (its slot possibly reused) is recognised and dropped.
    public struct Token: Hashable, Sendable {
        let slot: UInt32
        let generation: UInt32

        var raw: UInt64 { UInt64(self.generation) << 32 | UInt64(self.slot) }
        init(slot: UInt32, generation: UInt32) {
            self.slot = slot
            self.generation = generation
        }
        init(raw: UInt64) {
            self.slot = UInt32(truncatingIfNeeded: raw)
            self.generation = UInt32(truncatingIfNeeded: raw >> 32)
        }
    }

    private struct Registration {
        unowned(unsafe) var handler: any EventHandler
        var descriptor: CInt
        var interest: UInt32
    }

    public typealias TimerID = TimerQueue<() -> Void>.ID

    /// Which loop of a group this is (0 when alone).
    public let index: Int
    /// State the layer above keeps per loop (e.g. a buffer its connections share); touched on the loop only.
    public var attachment: AnyObject?
    /// The buffer every read on this loop goes into. Its contents are valid until the handler returns.
    public let readBuffer: UnsafeMutableRawBufferPointer
    public static let readBufferSize = 64 * 1024

    private let epoll: CInt
    private let wakeDescriptor: CInt
    /// Slot 0 is the mailbox's eventfd.
    private var registrations: [Registration?] = [nil]
    private var owners: [AnyObject?] = [nil]
    private var generations: [UInt32] = [0]
    private var freeSlots: [UInt32] = []
    /// Handlers deregistered during the current batch: released after it, never while one may be on the stack.
    private var released: [AnyObject] = []
    private var timers = TimerQueue<() -> Void>()
    private let mailbox = Mutex<[@Sendable () -> Void]>([])
    private let stopRequested = Atomic<Bool>(false)
    /// The running thread's pthread_t (0 while not running): read on every `isInLoop`, so an atomic, not a lock.
    private let thread = Atomic<UInt>(0)
    private var events = [spx_event](repeating: spx_event(), count: 256)

    public init(index: Int = 0) throws(DataPlaneError) {
        self.index = index
        let epoll = spx_epoll_create()
        guard epoll >= 0 else { throw .system("epoll_create1", errno) }
        let wake = spx_eventfd_create()
        guard wake >= 0 else {
            close(epoll)
            throw .system("eventfd", errno)
        }
        guard spx_epoll_add(epoll, wake, Self.readable, 0) == 0 else {
            let code = errno
            close(wake)
            close(epoll)
            throw .system("epoll_ctl", code)
        }
        self.epoll = epoll
        self.wakeDescriptor = wake
        self.readBuffer = .allocate(byteCount: Self.readBufferSize, alignment: 16)
    }

    deinit {
        close(self.wakeDescriptor)
        close(self.epoll)
        self.readBuffer.deallocate()
    }

    /// Registered descriptors (not counting the mailbox).
    public var registrationCount: Int { self.owners.count - 1 - self.freeSlots.count }

    public var isInLoop: Bool {
        let running = self.thread.load(ordering: .relaxed)
        return running != 0 && pthread_equal(pthread_t(running), pthread_self()) != 0
    }

    // MARK: Descriptors

    /// Watches `descriptor` for `handler`, which the loop keeps alive until `deregister`.
    public func register(_ descriptor: CInt, handler: any EventHandler, interest: UInt32 = EventLoop.readable)
        throws(DataPlaneError) -> Token {
        let slot: UInt32
        if let free = self.freeSlots.popLast() {
            slot = free
        } else {
            slot = UInt32(self.registrations.count)
            self.registrations.append(nil)
            self.owners.append(nil)
            self.generations.append(0)
        }
        let token = Token(slot: slot, generation: self.generations[Int(slot)])
        guard spx_epoll_add(self.epoll, descriptor, interest, token.raw) == 0 else {
            self.freeSlots.append(slot)
            throw .system("epoll_ctl(ADD)", errno)
        }
        self.registrations[Int(slot)] = Registration(handler: handler, descriptor: descriptor, interest: interest)
        self.owners[Int(slot)] = handler
        return token
    }

    /// Changes what wakes the handler (no system call when nothing changes).
    @inline(__always)
    public func setInterest(_ token: Token, _ interest: UInt32) {
        let slot = Int(token.slot)
        guard self.generations[slot] == token.generation, let registration = self.registrations[slot],
              registration.interest != interest else { return }
        self.registrations[slot]!.interest = interest
        _ = spx_epoll_modify(self.epoll, registration.descriptor, interest, token.raw)
    }

    /// Stops watching; the handler is released once the current batch of events is done. The caller closes the
    /// descriptor (after this, so no event of a reused descriptor number reaches the old handler).
    public func deregister(_ token: Token) {
        let slot = Int(token.slot)
        guard self.generations[slot] == token.generation, let registration = self.registrations[slot] else { return }
        _ = spx_epoll_remove(self.epoll, registration.descriptor)
        self.registrations[slot] = nil
        if let owner = self.owners[slot] { self.released.append(owner) }
        self.owners[slot] = nil
        self.generations[slot] &+= 1
        self.freeSlots.append(UInt32(slot))
    }

    // MARK: Timers

    /// Runs `action` on this loop after `nanoseconds`.
    @discardableResult
    public func schedule(in nanoseconds: UInt64, _ action: @escaping () -> Void) -> TimerID {
        self.timers.schedule(at: MonotonicTime.now() &+ nanoseconds, action)
    }

    public func cancel(_ timer: TimerID) {
        self.timers.cancel(timer)
    }

    // MARK: Other threads

    /// Runs `job` on this loop's thread, soon; callable from any thread (on the loop itself it runs after the
    /// current batch of events).
    public func execute(_ job: @escaping @Sendable () -> Void) {
        let wasEmpty = self.mailbox.withLock { jobs in
            jobs.append(job)
            return jobs.count == 1
        }
        if wasEmpty { _ = spx_eventfd_signal(self.wakeDescriptor) }
    }

    /// Makes `run()` return after the current batch; callable from any thread.
    public func stop() {
        self.stopRequested.store(true, ordering: .relaxed)
        _ = spx_eventfd_signal(self.wakeDescriptor)
    }

    // MARK: Running

    /// Runs the loop on the calling thread until `stop()`.
    public func run() {
        self.thread.store(UInt(pthread_self()), ordering: .relaxed)
        defer { self.thread.store(0, ordering: .relaxed) }
        while !self.stopRequested.load(ordering: .relaxed) {
            self.runOnce(timeoutMilliseconds: self.waitMilliseconds())
        }
    }

    /// One wait and the work it brings: ready descriptors, due timers, posted jobs. For tests and `run()`.
    public func runOnce(timeoutMilliseconds: CInt) {
        let count = self.events.withUnsafeMutableBufferPointer { events in
            spx_epoll_wait(self.epoll, events.baseAddress, CInt(events.count), timeoutMilliseconds)
        }
        var mailboxReady = false
        if count > 0 {
            for index in 0..<Int(count) {
                let event = self.events[index]
                let token = Token(raw: event.token)
                if token.slot == 0 {
                    mailboxReady = true
                    continue
                }
                let slot = Int(token.slot)
                guard self.generations[slot] == token.generation, let registration = self.registrations[slot] else {
                    continue  // deregistered earlier in this batch
                }
                registration.handler.handle(event.events, on: self)
            }
        }
        self.runDueTimers()
        if mailboxReady { self.drainMailbox() }
        if !self.released.isEmpty { self.released.removeAll(keepingCapacity: true) }
    }

    private func waitMilliseconds() -> CInt {
        guard let deadline = self.timers.nextDeadline() else { return -1 }
        let now = MonotonicTime.now()
        guard deadline > now else { return 0 }
        // Round up: waking a little late is fine, waking early would spin.
        return CInt(min((deadline - now + 999_999) / 1_000_000, UInt64(Int32.max)))
    }

    private func runDueTimers() {
        guard !self.timers.isEmpty else { return }
        let now = MonotonicTime.now()
        while let (_, action) = self.timers.popDue(now: now) { action() }
    }

    private func drainMailbox() {
        spx_eventfd_drain(self.wakeDescriptor)
        let jobs = self.mailbox.withLock { jobs in
            let taken = jobs
            jobs.removeAll()
            return taken
        }
        for job in jobs { job() }
    }
}
