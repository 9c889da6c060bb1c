import Testing
@testable import ProxyConfig

/// `search_path`: a list, `auto`, or absent; per service and in `defaults`; and the file order of `schemas:` that
/// `auto` follows.
@Suite struct SearchPathSettingTests {
    @Test func autoListAndAbsentInheritFromDefaultsAndServicesOverride() throws {
        let yaml = """
            auth: {method: trust}
            defaults: {search_path: auto}
            services:
              a: {backend: 'postgresql://u@h/db'}
              b: {backend: 'postgresql://u@h/db', search_path: [x, '"Y"', public]}
              c: {backend: 'postgresql://u@h/db', search_path: ~}
              d: {backend: 'postgresql://u@h/db', search_path: []}
            """
        let config = try ProxyConfiguration.parse(yaml: yaml, environment: [:])
        #expect(config.services["a"]?.searchPath == .auto)
        #expect(config.services["b"]?.searchPath == .schemas(["x", "\"Y\"", "public"]))
        #expect(config.services["c"]?.searchPath == .server, "null in a service stands for the server's own")
        #expect(config.services["d"]?.searchPath == .schemas([]))
        #expect(try ProxyConfiguration.parse(yaml: serviceConfig("search_path: auto"), environment: [:])
            .services["s"]?.searchPath == .auto)
        #expect(try ProxyConfiguration.parse(yaml: serviceConfig("search_path: ${SP}"), environment: ["SP": "auto"])
            .services["s"]?.searchPath == .auto)
        #expect(try ProxyConfiguration.parse(yaml: serviceConfig(), environment: [:]).services["s"]?.searchPath
            == .server)
    }

    @Test func anythingElseIsAnErrorNamingTheKey() {
        expectConfigError(serviceConfig("search_path: public"), key: "services.s.search_path",
                          "must be a list of schema names, like [a, b, public], or auto, not \"public\"")
        expectConfigError(serviceConfig("search_path: Auto"), key: "services.s.search_path", "or auto")
        expectConfigError(serviceConfig("search_path: {a: b}"), key: "services.s.search_path", "single value")
        expectConfigError(serviceConfig("search_path: [ok, 'no good']"), key: "services.s.search_path[1]",
                          "not a valid schema name")
        let defaults = "auth: {method: trust}\ndefaults: {search_path: [a, '']}\n"
            + "services:\n  s: {backend: 'postgresql://u@h'}"
        expectConfigError(defaults, key: "defaults.search_path[1]", "must not be empty")
    }

    @Test func schemaOrderFollowsTheFileNotTheAlphabet() throws {
        let yaml = serviceConfig("schemas:\n      zeta: [a]\n      '\"Alpha\"': []\n      mid: [b, c]\n      beta: ~")
        let service = try #require(try ProxyConfiguration.parse(yaml: yaml, environment: [:]).services["s"])
        #expect(service.schemaOrder == ["zeta", "\"Alpha\"", "mid", "beta"])
        #expect(Set(service.schemas.keys) == Set(service.schemaOrder))
        #expect(try ProxyConfiguration.parse(yaml: serviceConfig(), environment: [:]).services["s"]?.schemaOrder == [])
    }
}
