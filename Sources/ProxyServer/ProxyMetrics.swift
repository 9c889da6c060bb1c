import NIOConcurrencyHelpers
import NIOCore
import Prometheus
import Synchronization


/// The metric families of PRODUCT.md, registered in one Prometheus registry. Counters on the hot path are
/// lock-free atomics; gauges that describe state (connections by state, backend up) are set when scraped.
/// Without `metrics_listen` nobody can read the histograms, so `exported: false` skips recording them
/// (a lock and a bucket search per statement and per checkout wait).
final class ProxyMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let exported: Bool
    let configReloadSuccess: Counter
    let configReloadFailure: Counter

    static let durationBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    init(exported: Bool = true) {
        self.exported = exported
        let reloads = Self.descriptor("config_reloads", unit: "total", help: "Config reloads by result.")
        self.configReloadSuccess = self.registry.makeCounter(descriptor: reloads, labels: [("result", "success")])
        self.configReloadFailure = self.registry.makeCounter(descriptor: reloads, labels: [("result", "failure")])
    }

    static func descriptor(_ name: String, unit: String = "", help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "schemaproxy", metricName: name, unitName: unit, helpText: help)
    }

    func makeServiceMetrics(service: String) -> ServiceMetrics {
        ServiceMetrics(registry: self.registry, service: service, recordsDurations: self.exported)
    }

    func emit() -> [UInt8] {
        self.registry.emitToBuffer()
    }
}

/// One service's metric handles. Created once per service; unregistered when a reload removes it.
final class ServiceMetrics: Sendable {
    let service: String
    /// False when the metrics are not exported: the duration histograms are then left empty.
    let recordsDurations: Bool
    /// Hot-path counts are plain atomics; `syncCounters` moves them into the Prometheus counters per scrape.
    /// They are kept even when the metrics are not exported, for the admin console's `SHOW STATS`.
    private let queryAtomic = Atomic<Int>(0)
    private let transactionAtomic = Atomic<Int>(0)
    private let syncedCounts = NIOLockedValueBox<(queries: Int, transactions: Int)>((0, 0))
    let queries: Counter
    let transactions: Counter
    let serverConnectErrors: Counter
    let checkoutFailures: Counter
    let idleTransactionTimeouts: Counter
    let transparentRetries: Counter
    let queryDuration: DurationHistogram
    let checkoutWait: DurationHistogram
    let rewritesRewritten: Counter
    let rewritesUnchanged: Counter
    let rewritesParseError: Counter
    let rewriteCacheHits: Counter
    let rewriteCacheMisses: Counter
    /// `schemaproxy_unmapped_references_total{service}`: no table label, so its cardinality stays one per service.
    let unmappedReferences: Counter
    /// The unmapped-reference total already turned into counter increments.
    let reportedUnmapped = NIOLockedValueBox<Int>(0)
    let clients: [String: Gauge]
    let servers: [String: Gauge]
    private let backendUp = NIOLockedValueBox<[String: Gauge]>([:])
    /// Rewrite statistics already turned into counter increments (the rewriter counts on its own).
    let reportedRewrites = NIOLockedValueBox<[Int]>([0, 0, 0, 0, 0])
    private let registry: PrometheusCollectorRegistry

    init(registry: PrometheusCollectorRegistry, service: String, recordsDurations: Bool = true) {
        self.registry = registry
        self.service = service
        self.recordsDurations = recordsDurations
        let labels = [("service", service)]
        func counter(_ name: String, _ help: String, _ extra: [(String, String)] = []) -> Counter {
            registry.makeCounter(descriptor: ProxyMetrics.descriptor(name, unit: "total", help: help), labels: labels + extra)
        }
        self.queries = counter("queries", "Queries (simple Query and extended Execute messages) sent by clients.")
        self.transactions = counter("transactions", "Transactions (units ending in an idle ReadyForQuery) completed.")
        self.serverConnectErrors = counter("server_connect_errors", "Failed attempts to open a server connection.")
        self.checkoutFailures = counter("checkout_failures", "Clients that got no server connection (timeout or backend down).")
        self.idleTransactionTimeouts = counter("idle_transaction_timeouts", "Clients disconnected by idle_transaction_timeout (their transaction rolled back).")
        self.transparentRetries = counter("transparent_retries", "Transactions moved to another server connection because the first one was terminated before answering.")
        let rewrites = "Statements seen by the schema rewriter, by result."
        self.rewritesRewritten = counter("rewrites", rewrites, [("result", "rewritten")])
        self.rewritesUnchanged = counter("rewrites", rewrites, [("result", "unchanged")])
        self.rewritesParseError = counter("rewrites", rewrites, [("result", "parse_error")])
        self.rewriteCacheHits = counter("rewrite_cache_hits", "Rewrites answered from the cache.")
        self.rewriteCacheMisses = counter("rewrite_cache_misses", "Rewrites that had to parse the statement.")
        self.unmappedReferences = counter(
            "unmapped_references",
            "Unqualified table references left alone because the mapping does not name them (see SHOW UNMAPPED)."
        )
        self.queryDuration = registry.makeDurationHistogram(
            descriptor: ProxyMetrics.descriptor("query_duration", unit: "seconds",
                                                help: "Time from a client's query to the server's ReadyForQuery."),
            labels: labels, buckets: ProxyMetrics.durationBuckets)
        self.checkoutWait = registry.makeDurationHistogram(
            descriptor: ProxyMetrics.descriptor("checkout_wait", unit: "seconds",
                                                help: "Time clients waited for a server connection."),
            labels: labels, buckets: ProxyMetrics.durationBuckets)
        let clientHelp = ProxyMetrics.descriptor("client_connections", help: "Client connections by state.")
        self.clients = Dictionary(uniqueKeysWithValues: ["active", "waiting", "idle"].map {
            ($0, registry.makeGauge(descriptor: clientHelp, labels: labels + [("state", $0)]))
        })
        let serverHelp = ProxyMetrics.descriptor("server_connections", help: "Server connections by state.")
        self.servers = Dictionary(uniqueKeysWithValues: ["active", "idle", "connecting", "listening"].map {
            ($0, registry.makeGauge(descriptor: serverHelp, labels: labels + [("state", $0)]))
        })
    }

    @inline(__always)
    func countQuery() { self.queryAtomic.add(1, ordering: .relaxed) }

    @inline(__always)
    func countTransaction() { self.transactionAtomic.add(1, ordering: .relaxed) }

    var queryCount: Int { self.queryAtomic.load(ordering: .relaxed) }
    var transactionCount: Int { self.transactionAtomic.load(ordering: .relaxed) }

    func syncCounters() {
        let queries = self.queryCount
        let transactions = self.transactionCount
        self.syncedCounts.withLockedValue { synced in
            if queries > synced.queries { self.queries.increment(by: Int64(queries - synced.queries)) }
            if transactions > synced.transactions {
                self.transactions.increment(by: Int64(transactions - synced.transactions))
            }
            synced = (queries, transactions)
        }
    }

    @inline(__always)
    func observeQuery(_ duration: TimeAmount) {
        guard self.recordsDurations else { return }
        self.queryDuration.recordNanoseconds(duration.nanoseconds)
    }

    @inline(__always)
    func observeCheckoutWait(_ duration: TimeAmount) {
        guard self.recordsDurations else { return }
        self.checkoutWait.recordNanoseconds(duration.nanoseconds)
    }

    func setBackendUp(_ host: String, _ up: Bool) {
        let gauge = self.backendUp.withLockedValue { gauges in
            if let gauge = gauges[host] { return gauge }
            let gauge = self.registry.makeGauge(
                descriptor: ProxyMetrics.descriptor("backend_up", help: "1 when the host answered the last health check or connection attempt."),
                labels: [("service", self.service), ("host", host)])
            gauges[host] = gauge
            return gauge
        }
        gauge.set(Int64(up ? 1 : 0))
    }

    /// The host left the service's backend URL (reload): its gauge goes.
    func removeBackend(_ host: String) {
        if let gauge = self.backendUp.withLockedValue({ $0.removeValue(forKey: host) }) {
            self.registry.unregisterGauge(gauge)
        }
    }

    func unregister() {
        for counter in [self.queries, self.transactions, self.serverConnectErrors, self.checkoutFailures,
                        self.idleTransactionTimeouts, self.transparentRetries,
                        self.rewritesRewritten, self.rewritesUnchanged, self.rewritesParseError,
                        self.rewriteCacheHits, self.rewriteCacheMisses, self.unmappedReferences] {
            self.registry.unregisterCounter(counter)
        }
        self.registry.unregisterDurationHistogram(self.queryDuration)
        self.registry.unregisterDurationHistogram(self.checkoutWait)
        for gauge in Array(self.clients.values) + Array(self.servers.values) { self.registry.unregisterGauge(gauge) }
        for gauge in self.backendUp.withLockedValue({ Array($0.values) }) { self.registry.unregisterGauge(gauge) }
    }
}
