/// Which clients of a service listen on which channels (transaction pooling), and what the service's one
/// listener server connection must LISTEN or UNLISTEN so that it holds exactly the union of their channels.
/// Every change returns the statement for the listener connection, if any.
public struct NotificationSubscriptions<Client: Hashable & Sendable>: Sendable {
    private var listeners: [String: Set<Client>] = [:]
    private var channelsOf: [Client: Set<String>] = [:]

    public init() {}

    /// Every channel someone listens on (what a new listener connection must LISTEN to).
    public var channels: [String] { self.listeners.keys.sorted() }

    public var isEmpty: Bool { self.listeners.isEmpty }

    public func channels(of client: Client) -> Set<String> {
        self.channelsOf[client] ?? []
    }

    public func recipients(of channel: String) -> Set<Client> {
        self.listeners[channel] ?? []
    }

    /// `LISTEN channel` from `client`: the listener connection's statement when the channel is new.
    public mutating func listen(_ client: Client, to channel: String) -> String? {
        self.channelsOf[client, default: []].insert(channel)
        let isNew = self.listeners[channel] == nil
        self.listeners[channel, default: []].insert(client)
        return isNew ? Self.listenStatement(channel) : nil
    }

    /// `UNLISTEN channel` from `client`: the listener connection's statement when nobody listens any more.
    public mutating func unlisten(_ client: Client, from channel: String) -> String? {
        guard self.channelsOf[client]?.remove(channel) != nil else { return nil }
        if self.channelsOf[client]?.isEmpty == true { self.channelsOf[client] = nil }
        self.listeners[channel]?.remove(client)
        guard self.listeners[channel]?.isEmpty == true else { return nil }
        self.listeners[channel] = nil
        return "UNLISTEN " + SQLQuoting.identifier(channel)
    }

    /// `UNLISTEN *` from `client`, or the client left.
    public mutating func unlistenAll(_ client: Client) -> [String] {
        (self.channelsOf[client] ?? []).sorted().compactMap { self.unlisten(client, from: $0) }
    }

    public static func listenStatement(_ channel: String) -> String {
        "LISTEN " + SQLQuoting.identifier(channel)
    }
}
