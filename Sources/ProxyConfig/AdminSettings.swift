/// The admin console (`admin`): a virtual database answering `SHOW ...`, `RELOAD`, `PAUSE`, ... instead of a service.
public struct AdminSettings: Sendable, Equatable {
    /// The database name a client connects to for the console [schemaproxy]. Must not be a service name.
    public var database: String
    /// Authenticated users allowed to use it [none]. Everyone else is refused with `28000`.
    public var users: [String]

    public init(database: String = "schemaproxy", users: [String] = []) {
        self.database = database
        self.users = users
    }
}
