import Foundation
import Testing
@testable import ProxyConfig

/// `legacy_schemas` (per service and in `defaults`) and reading a config for commands that do not use every secret.
@Suite struct MigrationKeysTests {
    @Test func legacySchemasInheritFromDefaultsAndServicesOverride() throws {
        let yaml = """
            auth: {method: trust}
            defaults: {legacy_schemas: [public]}
            services:
              a: {backend: 'postgresql://u@h/db'}
              b: {backend: 'postgresql://u@h/db', legacy_schemas: ['"Old"', old2]}
              c: {backend: 'postgresql://u@h/db', legacy_schemas: []}
            """
        let config = try ProxyConfiguration.parse(yaml: yaml, environment: [:])
        #expect(config.services["a"]?.legacySchemas == ["public"])
        #expect(config.services["b"]?.legacySchemas == ["\"Old\"", "old2"])
        #expect(config.services["c"]?.legacySchemas == [])
    }

    @Test func invalidLegacySchemaNamesItsKey() {
        expectConfigError(serviceConfig("legacy_schemas: ['a b']"), key: "services.s.legacy_schemas[0]",
                          "not a valid schema name")
        expectConfigError(serviceConfig("legacy_schemas: public"), key: "services.s.legacy_schemas", "must be a list")
    }

    @Test func unusedSecretsDoNotStopCommandsThatDoNotUseThem() throws {
        // productExample takes APP_PASSWORD (auth) and DB_PASSWORD (backend) from the environment.
        #expect(throws: ConfigError.self) { try ProxyConfiguration.parse(yaml: productExample, environment: [:]) }
        #expect(throws: ConfigError.self) {
            try ProxyConfiguration.parse(yaml: productExample, environment: [:], unusedSecrets: .auth)
        }
        let discover = try ProxyConfiguration.parse(
            yaml: productExample, environment: ["DB_PASSWORD": "db"], unusedSecrets: .auth
        )
        #expect(discover.services["saju_service"]?.backend.password == "db")
        let rewrite = try ProxyConfiguration.parse(
            yaml: productExample, environment: [:], unusedSecrets: .authAndBackends
        )
        #expect(rewrite.services["saju_service"]?.schemas["shared_common"] == ["users", "attachments"])
        #expect(rewrite.auth.users["app"] != nil && rewrite.auth.users["app"] != "")
        // A port from an unset variable leaves a URL that does not parse: rewrite still reads the mapping.
        let portFromEnvironment = serviceConfig("schemas: {x: [t]}")
            .replacingOccurrences(of: "postgresql://u@h", with: "postgresql://u@h:${PORT}")
        #expect(throws: ConfigError.self) { try ProxyConfiguration.parse(yaml: portFromEnvironment, environment: [:]) }
        let parsed = try ProxyConfiguration.parse(
            yaml: portFromEnvironment, environment: [:], unusedSecrets: .authAndBackends
        )
        #expect(parsed.services["s"]?.schemas == ["x": ["t"]])
    }
}
