import Logging
import DataPlane
import NIOCore
import NIOHTTP1
import NIOPosix
import ProxyConfig
import UnixSignals

/// The running proxy: the PostgreSQL listener, the metrics listener, the pool housekeeping timer, and the
/// reactions to signals — SIGHUP reloads, SIGTERM drains gracefully, SIGINT stops at once.
public final class ProxyServer: Sendable {
    enum Event: Sendable {
        case reload
        case gracefulShutdown
        case immediateShutdown
    }

    private let configPath: String
    private let initial: PreparedConfiguration
    private let logger: Logger

    public init(configPath: String, configuration: PreparedConfiguration, logger: Logger) {
        self.configPath = configPath
        self.initial = configuration
        self.logger = logger
    }

    public func run() async throws {
        let config = self.initial.configuration
        // NIO keeps the control plane (metrics HTTP, the housekeeping tick); the relay runs on loops of its own.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // One thread per loop; `workers` trades CPU per transaction for latency (README, "Threads").
        let relay = try DataPlane.EventLoopGroup(count: config.eventLoopCount(coreCount: System.coreCount))
        relay.start()
        let loops = relay.loops
        let runtime = ProxyRuntime(prepared: self.initial, loops: loops, logger: self.logger,
                                   metrics: ProxyMetrics(exported: config.metricsListen != nil))
        let (events, eventSink) = AsyncStream.makeStream(of: Event.self)

        let configPath = self.configPath
        let logger = self.logger
        runtime.reloadHandler = {
            Self.reload(runtime: runtime, path: configPath, logger: logger)
        }
        runtime.shutdownHandler = { eventSink.yield(.gracefulShutdown) }

        // Metrics first: once the PostgreSQL port accepts connections, /health and /metrics answer too.
        var metricsListener: Channel?
        if let metricsAddress = config.metricsListen {
            metricsListener = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.pipeline.configureHTTPServerPipeline().flatMap {
                        channel.pipeline.addHandler(MetricsHTTPHandler(runtime: runtime))
                    }
                }
                .bind(host: metricsAddress.host, port: metricsAddress.port).get()
            self.logger.info("metrics listening", metadata: ["address": "\(metricsAddress)"])
        }

        // Signals are caught before the port accepts anything: a SIGHUP sent as soon as a client could connect (a
        // deployment's first reload) must reload, not end the process with the default action.
        let signalSequence = await UnixSignalsSequence(trapping: .sighup, .sigterm, .sigint)

        // Listeners run on the first loop and deal accepted clients to the loops in turn.
        let dealer = ClientDealer(runtime: runtime, loops: loops)
        var opened: [Listener] = []
        for address in config.listen {
            let listener: Listener
            switch address {
            case .tcp(let hostAndPort):
                listener = try Listener.tcp(host: hostAndPort.host, port: hostAndPort.port) { descriptor, _ in
                    dealer.accepted(descriptor, tcp: true)
                }
            case .unixSocket:
                // A socket file left by a proxy that died is replaced, as PostgreSQL does with its own.
                listener = try Listener.unix(path: address.socketPath!) { descriptor, _ in
                    dealer.accepted(descriptor, tcp: false)
                }
            }
            opened.append(listener)
        }
        let listeners = opened
        try await loops[0].submit { for listener in listeners { try listener.start(on: loops[0]) } }.get()
        self.logger.info("listening", metadata: ["address": "\(config.listen.map(\.description).joined(separator: ","))",
                                                  "workers": "\(loops.count)",
                                                  "services": "\(config.services.keys.sorted().joined(separator: ","))"])

        let ticker = group.next().scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) { _ in
            runtime.tick()
        }

        let signals = Task {
            for await signal in signalSequence {
                switch signal {
                case .sighup: eventSink.yield(.reload)
                case .sigterm: eventSink.yield(.gracefulShutdown)
                case .sigint: eventSink.yield(.immediateShutdown)
                default: break
                }
            }
        }

        var graceful = true
        loop: for await event in events {
            switch event {
            case .reload:
                _ = Self.reload(runtime: runtime, path: configPath, logger: logger)
            case .gracefulShutdown:
                break loop
            case .immediateShutdown:
                graceful = false
                break loop
            }
        }
        signals.cancel()

        runtime.isShuttingDown = true
        self.logger.info(graceful ? "shutting down gracefully" : "shutting down now")
        try? await loops[0].submit { for listener in listeners { listener.close(on: loops[0]) } }.get()
        if graceful {
            await Self.drain(runtime: runtime, timeout: runtime.configuration.shutdownTimeout)
        }
        ticker.cancel()
        runtime.shutdownPools()
        // The pools' closes are queued on the loops: let them run (Terminate to each idle server) before stopping.
        for loop in loops { try? await loop.submit {}.get() }
        try? await metricsListener?.close()
        relay.stop()
        try? await group.shutdownGracefully()
        self.logger.info("stopped")
    }

    /// Re-reads the config file; keeps the old configuration if the new one is invalid.
    static func reload(runtime: ProxyRuntime, path: String, logger: Logger) -> String? {
        do {
            let prepared = try PreparedConfiguration.load(path: path)
            let changes = runtime.apply(prepared)
            runtime.metrics.configReloadSuccess.increment()
            logger.info("config reloaded", metadata: ["changes": "\(changes.isEmpty ? "none" : changes.joined(separator: "; "))"])
            return nil
        } catch {
            runtime.metrics.configReloadFailure.increment()
            logger.error("config reload failed; keeping the old config", metadata: ["error": "\(error)"])
            return error.description
        }
    }

    /// Lets running transactions finish; idle clients are told 57P01 and closed; gives up at `timeout`.
    static func drain(runtime: ProxyRuntime, timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var remaining = 0
            for service in runtime.allServices {
                for client in service.connectedClients {
                    remaining += 1
                    client.eventLoop.execute { client.closeIfIdleForShutdown() }
                }
            }
            if remaining == 0 && runtime.connectedClients == 0 { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// Hands each accepted client connection to a relay loop, in turn; runs on the listeners' loop.
private final class ClientDealer: @unchecked Sendable {  // used on the first loop only
    private let runtime: ProxyRuntime
    private let loops: [RelayLoop]
    private var next = 0

    init(runtime: ProxyRuntime, loops: [RelayLoop]) {
        self.runtime = runtime
        self.loops = loops
    }

    func accepted(_ descriptor: CInt, tcp: Bool) {
        if tcp {
            var one: CInt = 1
            setsockopt(descriptor, CInt(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<CInt>.size))
        }
        let index = self.next
        self.next = (self.next + 1) % self.loops.count
        let loop = self.loops[index]
        let runtime = self.runtime
        let start: @Sendable () -> Void = {
            let client = ClientConnectionHandler(runtime: runtime, eventLoop: loop, loopIndex: index,
                                                 descriptor: descriptor,
                                                 remoteAddress: Listener.peerDescription(descriptor))
            client.start()
        }
        if index == 0 { start() } else { loop.execute(start) }
    }
}
