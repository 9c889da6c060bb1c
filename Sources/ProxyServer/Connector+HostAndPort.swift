import DataPlane
import ProxyConfig

extension Connector {
    /// Connects to a backend host: TCP, or the Unix-domain socket of a socket directory (`host=/var/run/postgresql`).
    @discardableResult
    static func connect(to host: HostAndPort, on loop: RelayLoop, completion: @escaping Completion) -> Connector {
        host.isSocketDirectory
            ? Connector.connect(unixPath: host.socketPath, on: loop, completion: completion)
            : Connector.connect(host: host.host, port: host.port, on: loop, completion: completion)
    }
}
