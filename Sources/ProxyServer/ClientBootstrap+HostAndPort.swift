import NIOCore
import NIOPosix
import ProxyConfig

extension ClientBootstrap {
    /// Connects to a backend host: TCP, or the Unix-domain socket of a socket directory (`host=/var/run/postgresql`).
    func connect(to host: HostAndPort) -> EventLoopFuture<Channel> {
        if host.isSocketDirectory { return self.connect(unixDomainSocketPath: host.socketPath) }
        return self.channelOption(.socketOption(.tcp_nodelay), value: 1).connect(host: host.host, port: host.port)
    }
}
