import CatalogTools
import ProxyServer

/// The `--live` part of `schemaproxy check`: each service's findings, printed per service.
enum LiveCheckCommand {
    /// Prints every service's findings; `false` when any service has an error (or its backend cannot be reached).
    static func run(_ prepared: PreparedConfiguration) -> Bool {
        var errors = 0
        var warnings = 0
        for name in prepared.configuration.services.keys.sorted() {
            let settings = prepared.configuration.services[name]!
            let mapping = prepared.mappings[name]?.schemaByTable ?? [:]
            guard !mapping.isEmpty else {
                print("\(name): no mapping, nothing to check")
                continue
            }
            do {
                let connection = try CatalogConnection(backend: settings.backend)
                // What the proxy's server connections start with; `auto` begins with the server's own, as the
                // proxy learns it.
                var serverDefault: String?
                if settings.searchPath == .auto {
                    serverDefault = try connection.query(StartupSearchPath.learningQuery).first?.first ?? nil
                }
                let searchPath = StartupSearchPath.resolve(
                    settings.searchPath, schemaOrder: settings.schemaOrder, serverDefault: serverDefault
                )
                if case .value(let value) = searchPath {
                    _ = try connection.query("SELECT set_config('search_path', $1, false)", [value])
                }
                let findings = try LiveCheck.run(mapping: mapping, on: connection).findings
                for finding in findings {
                    print("\(name): \(finding)")
                }
                let serviceErrors = findings.filter { $0.severity == .error }.count
                errors += serviceErrors
                warnings += findings.count - serviceErrors
                if findings.isEmpty {
                    print("\(name): live OK (\(mapping.count) mapped names)")
                }
            } catch {
                print("\(name): ERROR: \(error)")
                errors += 1
            }
        }
        print("live check: \(errors) error(s), \(warnings) warning(s)")
        return errors == 0
    }
}
