import NIOCore
import PostgresWire
import ProxyConfig

/// The virtual admin database (`admin.database`): SHOW commands answered as real result sets,
/// plus RELOAD, PAUSE, RESUME and SHUTDOWN.
final class AdminConsole: @unchecked Sendable {
    let runtime: ProxyRuntime

    init(runtime: ProxyRuntime) {
        self.runtime = runtime
    }

    func writeGreeting(into writer: inout MessageWriter) {
        for (name, value) in [("server_version", "15.0 (schemaproxy admin)"), ("client_encoding", "UTF8"),
                              ("server_encoding", "UTF8"), ("DateStyle", "ISO, MDY"), ("integer_datetimes", "on"),
                              ("standard_conforming_strings", "on"), ("application_name", "")] {
            writer.writeParameterStatus(name: name, value: value)
        }
        writer.writeBackendKeyData(BackendKey(processID: 0, secretKey: 0))
        writer.writeReadyForQuery(.idle)
    }

    func execute(_ sql: String, into writer: inout MessageWriter) {
        let words = sql.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == ";" })
            .map { $0.lowercased() }
        if words.isEmpty {
            writer.writeEmptyQueryResponse()
        } else {
            do {
                try self.run(words, into: &writer)
            } catch let error as ErrorFields {
                writer.writeError(error)
            } catch {
                writer.writeError(.error(.internalError, "\(error)"))
            }
        }
        writer.writeReadyForQuery(.idle)
    }

    private func run(_ words: [String], into writer: inout MessageWriter) throws {
        switch (words[0], words.count > 1 ? words[1] : "") {
        case ("show", "pools"): self.showPools(into: &writer)
        case ("show", "stats"): self.showStats(into: &writer)
        case ("show", "clients"): self.showClients(into: &writer)
        case ("show", "servers"): self.showServers(into: &writer)
        case ("show", "services"), ("show", "databases"): self.showServices(into: &writer)
        case ("show", "config"): self.showConfig(into: &writer)
        case ("show", "unmapped"): try self.showUnmapped(service: words.count > 2 ? words[2] : nil, into: &writer)
        case ("reload", _):
            guard let reload = self.runtime.reloadHandler else { throw ErrorFields.error(.featureNotSupported, "reload is not available") }
            let result = reload()
            if let failure = result { throw ErrorFields.error(.internalError, "reload failed, old config kept: \(failure)") }
            writer.writeCommandComplete("RELOAD")
        case ("pause", _), ("resume", _):
            let pause = words[0] == "pause"
            let services = try self.services(named: words.count > 1 ? words[1] : nil)
            for service in services { service.setPaused(pause) }
            writer.writeCommandComplete(pause ? "PAUSE" : "RESUME")
        case ("shutdown", _):
            self.runtime.shutdownHandler?()
            writer.writeCommandComplete("SHUTDOWN")
        default:
            throw ErrorFields.error(.syntaxError, "unknown admin command; try SHOW POOLS|STATS|CLIENTS|SERVERS|SERVICES|CONFIG, RELOAD, PAUSE [service], RESUME [service], SHUTDOWN")
        }
    }

    func services(named name: String?) throws -> [Service] {
        guard let name else { return self.runtime.allServices }
        guard let service = self.runtime.allServices.first(where: { $0.name.lowercased() == name }) else {
            throw ErrorFields.error(.invalidCatalogName, "no service \"\(name)\"")
        }
        return [service]
    }

    func table(_ columns: [String], _ rows: [[String?]], tag: String, into writer: inout MessageWriter) {
        writer.writeRowDescription(columns: columns)
        for row in rows { writer.writeDataRow(row) }
        writer.writeCommandComplete("\(tag) \(rows.count)")
    }

    private func showPools(into writer: inout MessageWriter) {
        let rows: [[String?]] = self.runtime.allServices.map { service in
            let stats = service.pool.statistics
            var clients = ["active": 0, "waiting": 0, "idle": 0]
            for client in service.connectedClients { clients[client.publicState.description, default: 0] += 1 }
            let settings = service.settings
            return [service.name, settings.poolMode.rawValue, "\(clients["active"]!)", "\(clients["waiting"]!)",
                    "\(clients["idle"]!)", "\(stats.leased)", "\(stats.idle)", "\(stats.connecting)",
                    "\(settings.poolSize)", service.isPaused ? "yes" : "no"]
        }
        self.table(["service", "pool_mode", "cl_active", "cl_waiting", "cl_idle", "sv_active", "sv_idle",
                    "sv_connecting", "pool_size", "paused"], rows, tag: "SHOW", into: &writer)
    }

    private func showStats(into writer: inout MessageWriter) {
        let rows: [[String?]] = self.runtime.allServices.map { service in
            let rewrites = service.rewriteStatistics
            return [service.name, "\(service.metrics.queryCount)", "\(service.metrics.transactionCount)",
                    "\(rewrites.rewritten)", "\(rewrites.unchanged)", "\(rewrites.parseErrors)",
                    "\(rewrites.cacheHits)", "\(rewrites.cacheMisses)"]
        }
        self.table(["service", "queries", "transactions", "rewritten", "unchanged", "parse_errors", "cache_hits",
                    "cache_misses"], rows, tag: "SHOW", into: &writer)
    }

    private func showClients(into writer: inout MessageWriter) {
        var rows: [[String?]] = []
        for service in self.runtime.allServices {
            for client in service.connectedClients {
                rows.append([service.name, client.user, client.remoteAddress, client.publicState.description])
            }
        }
        self.table(["service", "user", "address", "state"], rows, tag: "SHOW", into: &writer)
    }

    private func showServers(into writer: inout MessageWriter) {
        var rows: [[String?]] = []
        for service in self.runtime.allServices {
            for server in service.pool.serverConnections {
                rows.append([service.name, server.host.description, server.stateDescription,
                             server.backendKey.map { "\($0.processID)" }])
            }
        }
        self.table(["service", "host", "state", "backend_pid"], rows, tag: "SHOW", into: &writer)
    }

    private func showServices(into writer: inout MessageWriter) {
        var rows: [[String?]] = []
        for service in self.runtime.allServices {
            let settings = service.settings
            let mapping = settings.schemas.sorted(by: { $0.key < $1.key })
            let backend = settings.backend.description
            let searchPath = service.searchPathDescription
            if mapping.isEmpty {
                rows.append([service.name, backend, settings.poolMode.rawValue, "\(settings.poolSize)", searchPath, nil, nil])
            }
            for (schema, tables) in mapping {
                rows.append([service.name, backend, settings.poolMode.rawValue, "\(settings.poolSize)", searchPath,
                             schema, tables.joined(separator: ", ")])
            }
        }
        self.table(["service", "backend", "pool_mode", "pool_size", "search_path", "schema", "tables"], rows,
                   tag: "SHOW", into: &writer)
    }

    private func showConfig(into writer: inout MessageWriter) {
        let config = self.runtime.configuration
        var rows: [[String?]] = [
            ["listen", config.listen.map(\.description).joined(separator: ", ")],
            ["metrics_listen", config.metricsListen?.description],
            ["shutdown_timeout", "\(config.shutdownTimeout)"],
            ["max_client_connections", "\(config.maxClientConnections)"],
            ["workers", config.workers.map(String.init) ?? "auto"],
            ["login_timeout", "\(config.loginTimeout)"],
            ["admin.database", config.admin.database],
            ["admin.users", config.admin.users.joined(separator: ", ")],
            ["auth.method", config.auth.method.rawValue],
            ["auth.users", config.auth.users.keys.sorted().joined(separator: ", ")],
        ]
        for (name, service) in config.services.sorted(by: { $0.key < $1.key }) {
            let prefix = "services.\(name)."
            rows += [
                [prefix + "backend", service.backend.description],
                [prefix + "pool_mode", service.poolMode.rawValue],
                [prefix + "pool_size", "\(service.poolSize)"],
                [prefix + "min_pool_size", "\(service.minPoolSize)"],
                [prefix + "checkout_timeout", "\(service.checkoutTimeout)"],
                [prefix + "server_idle_timeout", "\(service.serverIdleTimeout)"],
                [prefix + "server_lifetime", "\(service.serverLifetime)"],
                [prefix + "idle_transaction_timeout", "\(service.idleTransactionTimeout)"],
            ]
        }
        self.table(["key", "value"], rows, tag: "SHOW", into: &writer)
    }
}
