import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresWire
import ProxySession

/// LISTEN/NOTIFY under transaction pooling, for one service: one listener server connection of its own, outside
/// the pool's bound, holds the union of the channels the service's clients listen on (`NotificationSubscriptions`
/// decides what it LISTENs and UNLISTENs), and hands each notification to every client listening on its channel.
/// The connection is opened on the first LISTEN; if it dies it is opened again (after a second) and LISTENs again:
/// clients lose only what was sent while it was down.
final class NotificationHub: @unchecked Sendable {
    unowned let service: Service
    /// The listener connection's loop: `listener` and `connecting` are touched only there.
    let eventLoop: RelayLoop
    private let lock = NIOLock()
    private var subscriptions = NotificationSubscriptions<Int>()
    private var clients: [Int: ClientConnectionHandler] = [:]
    /// The listener connection, for other threads (SHOW SERVERS, metrics).
    private var published: ServerConnection?
    private var listener: ServerConnection?
    private var connecting = false
    /// The backend changed while a listener connection was being opened: it is closed once open (and opened again).
    private var staleConnect = false
    /// The service is closing: no listener connection any more.
    private var closed = false
    /// Channels the current listener connection has confirmed listening on (its LISTEN's ReadyForQuery came).
    private var confirmed: Set<String> = []
    /// What each query sent on the listener connection is, in order: the channel of a LISTEN, nil otherwise.
    private var sentQueries: [String?] = []
    /// Clients waiting for a channel to be confirmed before their LISTEN's reply reaches them.
    private var waiting: [String: [@Sendable () -> Void]] = [:]

    init(service: Service, eventLoop: RelayLoop) {
        self.service = service
        self.eventLoop = eventLoop
    }

    /// The listener connection, if one is open (any thread).
    var connection: ServerConnection? { self.lock.withLock { self.published } }

    /// `client` listens on `channel`; `confirmed` runs (on the hub's loop) once the listener connection listens
    /// on it, so that the client's LISTEN is answered only when notifications on it will arrive, as on PostgreSQL
    /// (or after 5 s, so that a client never hangs on a listener connection that cannot be opened).
    func listen(_ client: ClientConnectionHandler, to channel: String, confirmed: @escaping @Sendable () -> Void) {
        let statement = self.lock.withLock { () -> String? in
            self.clients[client.waiterID] = client
            return self.subscriptions.listen(client.waiterID, to: channel)
        }
        self.eventLoop.execute {
            if let statement {
                self.confirmed.remove(channel)
                self.send([(statement, channel)])
            }
            if self.confirmed.contains(channel) { return confirmed() }
            self.waiting[channel, default: []].append(confirmed)
            _ = self.eventLoop.scheduleTask(in: .seconds(5)) { self.confirm(channel) }
        }
    }

    func unlisten(_ client: ClientConnectionHandler, from channel: String) {
        let statement = self.lock.withLock { self.subscriptions.unlisten(client.waiterID, from: channel) }
        guard let statement else { return }
        self.eventLoop.execute {
            self.confirmed.remove(channel)
            self.send([(statement, nil)])
        }
    }

    func unlistenAll(_ client: ClientConnectionHandler) {
        let statements = self.lock.withLock { () -> [String] in
            self.clients[client.waiterID] = nil
            return self.subscriptions.unlistenAll(client.waiterID)
        }
        guard !statements.isEmpty else { return }
        self.eventLoop.execute {
            let unheard = self.lock.withLock { self.confirmed.filter { self.subscriptions.recipients(of: $0).isEmpty } }
            self.confirmed.subtract(unheard)
            self.send(statements.map { ($0, nil) })
        }
    }

    /// On the hub's loop: to the listener connection, or (re)connect, which LISTENs to every channel anyway.
    private func send(_ queries: [(statement: String, listenChannel: String?)]) {
        if let listener = self.listener {
            self.sentQueries.append(contentsOf: queries.map(\.listenChannel))
            listener.sendListenerQueries(queries.map(\.statement))
        } else {
            self.connect()
        }
    }

    /// The listener connection answered its oldest query (ReadyForQuery), on the hub's loop.
    func listenerAnswered() {
        guard !self.sentQueries.isEmpty else { return }
        if let channel = self.sentQueries.removeFirst() {
            self.confirmed.insert(channel)
            self.confirm(channel)
        }
    }

    private func confirm(_ channel: String) {
        guard let callbacks = self.waiting.removeValue(forKey: channel) else { return }
        for callback in callbacks { callback() }
    }

    /// Opens the listener connection (on its loop) and LISTENs to every channel someone listens on by then.
    private func connect() {
        guard !self.closed, self.listener == nil, !self.connecting,
              !self.lock.withLock({ self.subscriptions.isEmpty }) else { return }
        self.connecting = true
        let hosts = self.service.prober.connectOrder(self.service.settings.backend.hosts)
        guard let host = hosts.first else { return }
        ServerConnector.open(service: self.service, host: host, poolID: -1, eventLoop: self.eventLoop, loopIndex: 0)
            .whenComplete { result in
                self.connecting = false
                let stale = self.staleConnect
                self.staleConnect = false
                switch result {
                case .success(let server) where stale:
                    server.close()
                    self.connect()
                case .success(let server):
                    self.listener = server
                    self.lock.withLock { self.published = server }
                    server.startListening(for: self)
                    let channels = self.lock.withLock { self.subscriptions.channels }
                    self.sentQueries = channels
                    server.sendListenerQueries(channels.map(NotificationSubscriptions<Int>.listenStatement))
                    self.service.logger.info("listener connection open", metadata: [
                        "service": "\(self.service.name)", "channels": "\(channels.count)",
                    ])
                case .failure(let error):
                    self.service.logger.warning("listener connection failed", metadata: [
                        "service": "\(self.service.name)", "error": "\(error)",
                    ])
                    _ = self.eventLoop.scheduleTask(in: .seconds(1)) { self.connect() }
                }
            }
    }

    /// The listener connection closed (pg_terminate_backend, a restart): open another one.
    func listenerLost(_ server: ServerConnection) {
        guard self.listener === server else { return }
        self.listener = nil
        self.confirmed.removeAll()
        self.sentQueries.removeAll()
        self.lock.withLock { self.published = nil }
        self.service.logger.warning("listener connection lost; reconnecting",
                                    metadata: ["service": "\(self.service.name)"])
        _ = self.eventLoop.scheduleTask(in: .seconds(1)) { self.connect() }
    }

    /// A reload changed the service's backend: the listener connection moves to the new one (closed here, it is
    /// opened again as after a loss, and LISTENs to every channel there). Notifications sent meanwhile are lost.
    func backendChanged() {
        self.eventLoop.execute {
            // One being opened still goes to the old backend: it is closed as soon as it is open.
            if self.connecting { self.staleConnect = true }
            self.listener?.close()
        }
    }

    /// A NotificationResponse (the whole message) on `channel`: to every client listening on it.
    func received(_ message: ByteBuffer, channel: String) {
        let recipients = self.lock.withLock {
            self.subscriptions.recipients(of: channel).compactMap { self.clients[$0] }
        }
        for client in recipients {
            client.eventLoop.execute { client.deliverNotification(message) }
        }
    }

    /// The service's pool is closing (shutdown, service removed): the listener connection goes too.
    func close() {
        self.eventLoop.execute {
            self.closed = true
            self.listener?.close()
        }
    }
}
