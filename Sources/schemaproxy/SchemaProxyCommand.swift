import ArgumentParser
import CatalogTools
import Foundation
import Logging
import ProxyAuth
import ProxyConfig
import ProxyServer
import SchemaRouting

/// `schemaproxy --config FILE` runs the proxy; the subcommands check a config, show a rewrite, or make a
/// password verifier. See PRODUCT.md and the README.
@main
@available(macOS 15, *)
struct SchemaProxy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schemaproxy",
        abstract: "PostgreSQL pooler that routes unqualified table names to per-service schemas.",
        subcommands: [Run.self, Check.self, Rewrite.self, HashPassword.self, Mapping.self],
        defaultSubcommand: Run.self
    )
}

struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "Path of the YAML config file.")
    var config: String = "conf/schemaproxy.yaml"

    func load(unusedSecrets: UnusedSecrets = .none) throws -> PreparedConfiguration {
        do {
            return try PreparedConfiguration.load(path: self.config, unusedSecrets: unusedSecrets)
        } catch {
            throw ValidationError("\(self.config): \(error)")
        }
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the proxy in the foreground (the default).")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let prepared = try self.options.load()
        let level = Logger.Level(rawValue: prepared.configuration.logLevel.rawValue) ?? .info
        LoggingSystem.bootstrap { KeyValueLogHandler(label: $0, level: level) }
        let logger = Logger(label: "schemaproxy")
        try await ProxyServer(configPath: self.options.config, configuration: prepared, logger: logger).run()
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a config file; exit 0 if it is valid.",
        discussion: """
            With --live, also connect to each service's backend and compare its mapping with the catalog: \
            errors (exit 1) for mapped names or schemas that are missing, of the wrong kind or not accessible to the \
            backend user; warnings (exit 0) for tables the mapping leaves out and for mapped names that the \
            backend's search_path resolves to another schema.
            """
    )

    @OptionGroup var options: ConfigOption
    @Flag(help: "Also check each service's mapping against its backend.") var live = false

    func run() throws {
        let prepared = try self.options.load()
        let services = prepared.configuration.services.keys.sorted()
        print("\(self.options.config): OK (\(services.count) services: \(services.joined(separator: ", ")))")
        if live && !LiveCheckCommand.run(prepared) {
            throw ExitCode.failure
        }
    }
}

struct Rewrite: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print SQL exactly as the proxy would send it to the server for a service.")

    @OptionGroup var options: ConfigOption
    @Option(help: "The service (database name clients use).") var service: String
    @Argument(help: "The SQL text.") var sql: String

    func run() throws {
        // Neither client credentials nor backends are used here: an unset ${NAME} in them must not stop a rewrite.
        let prepared = try self.options.load(unusedSecrets: .authAndBackends)
        guard let mapping = prepared.mappings[self.service] else {
            throw ValidationError("no service \"\(self.service)\" in \(self.options.config)")
        }
        switch SchemaRewriter(mapping: mapping).rewrite(self.sql) {
        case .rewritten(let bytes): print(String(decoding: bytes, as: UTF8.self))
        case .unchanged: print(self.sql)
        case .parseError:
            print(self.sql)
            FileHandle.standardError.write(Data("note: the parser rejected this SQL; it is forwarded unchanged\n".utf8))
        }
    }
}

struct HashPassword: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash-password",
        abstract: "Print a verifier for auth.users (the password is read from standard input).")

    @Option(help: "scram-sha-256 or md5.") var method: String = "scram-sha-256"
    @Option(help: "User name (md5 only: the hash includes it).") var user: String?

    func run() throws {
        let password = (readLine(strippingNewline: true) ?? "")
        guard !password.isEmpty else { throw ValidationError("no password on standard input") }
        guard let method = PasswordHasher.Method(rawValue: self.method) else {
            throw ValidationError("--method must be scram-sha-256 or md5")
        }
        do {
            print(try PasswordHasher.hash(password: password, method: method, user: self.user))
        } catch {
            throw ValidationError("\(error)")
        }
    }
}


