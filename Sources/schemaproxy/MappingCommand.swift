import ArgumentParser
import CatalogTools
import Foundation
import ProxyConfig
import ProxyServer

/// `schemaproxy mapping discover`: a `schemas:` block from a backend's live catalog.
struct Mapping: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tools for the schema mapping.",
        subcommands: [Discover.self]
    )
}

struct Discover: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a schemas: block for the config from a backend's live catalog.",
        discussion: """
            Lists the tables, partitioned tables, views, materialized views, foreign tables and sequences of the \
            schemas named (default: every schema but public and the system ones). A name found in several schemas \
            is printed as a commented CONFLICT for you to resolve; it is never routed silently.
            """
    )

    @Option(help: "A libpq URL of the backend (postgresql://user:password@host:5432/db).") var backend: String?
    @Option(help: "Config file whose service's backend to use (with --service).") var config: String?
    @Option(help: "The service whose backend to use (with --config).") var service: String?
    @Option(help: "Comma-separated schema names (as in SQL: \"Name\" is exact, others fold to lower case).")
    var schemas: String?
    @Option(help: "yaml (for the config file) or json (for tools).") var format: String = "yaml"

    func validate() throws {
        guard (backend != nil) != (config != nil) else {
            throw ValidationError("give either --backend URL or --config FILE --service NAME")
        }
        guard config == nil || service != nil else {
            throw ValidationError("--config needs --service NAME")
        }
        guard ["yaml", "json"].contains(format) else {
            throw ValidationError("--format must be yaml or json")
        }
    }

    func run() throws {
        let connection: CatalogConnection
        do {
            if let backend {
                connection = try CatalogConnection(url: backend)
            } else {
                let prepared: PreparedConfiguration
                do {
                    // Client credentials are not used here: an unset ${NAME} under auth must not stop discovery.
                    prepared = try PreparedConfiguration.load(path: config!, unusedSecrets: .auth)
                } catch {
                    throw ValidationError("\(config!): \(error)")
                }
                guard let settings = prepared.configuration.services[service!] else {
                    throw ValidationError("no service \"\(service!)\" in \(config!)")
                }
                connection = try CatalogConnection(backend: settings.backend)
            }
            var schemaNames: [String]
            if let schemas {
                schemaNames = []
                for written in schemas.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) })
                where !written.isEmpty {
                    guard let folded = SQLIdentifier.normalize(written) else {
                        throw ValidationError("--schemas: \"\(written)\" is not a valid schema name")
                    }
                    if !schemaNames.contains(folded) {
                        schemaNames.append(folded)
                    }
                }
            } else {
                schemaNames = try connection.query(CatalogObject.defaultSchemasQuery).compactMap { $0.first ?? nil }
            }
            let rows = try connection.query(CatalogObject.catalogQuery, [CatalogObject.arrayLiteral(schemaNames)])
            let discovered = DiscoveredMapping(objects: CatalogObject.objects(fromRows: rows), schemaOrder: schemaNames)
            print(format == "json" ? discovered.json() : discovered.yaml(), terminator: "")
        } catch let error as CatalogError {
            FileHandle.standardError.write(Data("schemaproxy mapping discover: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
