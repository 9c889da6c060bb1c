/// One place the proxy listens for PostgreSQL clients (`listen`): a TCP address, or a Unix-domain socket named as
/// PostgreSQL names its own, `<directory>/.s.PGSQL.<port>`, so `psql -h <directory> -p <port>` finds it.
public enum ListenAddress: Sendable, Hashable, CustomStringConvertible {
    case tcp(HostAndPort)
    case unixSocket(directory: String, port: Int)

    /// The port a socket directory's file is named after when no TCP address in `listen` gives one.
    public static let defaultSocketPort = 6432

    /// Reads a `listen` list: entries starting with `/` are socket directories, the others `host:port`. A socket
    /// directory takes the port of the first TCP address in the list (other than 0), else 6432.
    static func parseList(_ entries: [String]) throws(FieldError) -> [ListenAddress] {
        var tcp: [HostAndPort] = []
        for entry in entries where !entry.hasPrefix("/") {
            tcp.append(try HostAndPort.parse(entry, defaultPort: nil, allowPortZero: true))
        }
        let socketPort = tcp.first(where: { $0.port != 0 })?.port ?? Self.defaultSocketPort
        var addresses: [ListenAddress] = []
        var tcpIndex = 0
        for entry in entries {
            if entry.hasPrefix("/") {
                var directory = entry
                while directory.count > 1, directory.hasSuffix("/") { directory.removeLast() }
                let path = directory + "/.s.PGSQL.\(socketPort)"
                guard path.utf8.count < 108 else {  // sockaddr_un.sun_path, with its terminating NUL
                    throw FieldError("socket path \(path) is longer than the 107 bytes a Unix socket name may have")
                }
                addresses.append(.unixSocket(directory: directory, port: socketPort))
            } else {
                addresses.append(.tcp(tcp[tcpIndex]))
                tcpIndex += 1
            }
        }
        guard Set(addresses).count == addresses.count else { throw FieldError("lists the same address twice") }
        return addresses
    }

    /// The socket file of a Unix-domain address.
    public var socketPath: String? {
        guard case .unixSocket(let directory, let port) = self else { return nil }
        return (directory == "/" ? "" : directory) + "/.s.PGSQL.\(port)"
    }

    public var description: String {
        switch self {
        case .tcp(let address): return address.description
        case .unixSocket: return self.socketPath!
        }
    }
}
