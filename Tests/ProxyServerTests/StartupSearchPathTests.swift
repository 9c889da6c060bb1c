import ProxyConfig
import Testing
@testable import ProxyServer

/// The search_path server connections start with: a configured list, `auto` (mapped schemas in file order, then the
/// server's own, each once), or nothing.
@Suite struct StartupSearchPathTests {
    @Test func autoPutsTheMappedSchemasInFileOrderBeforeTheServersOwn() {
        let heal7 = StartupSearchPath.auto(schemaOrder: ["shared_common", "saju_service"],
                                           serverDefault: "\"$user\", public")
        #expect(heal7 == "shared_common, saju_service, \"$user\", public")
        #expect(StartupSearchPath.auto(schemaOrder: ["zeta", "alpha"], serverDefault: "pg_catalog")
            == "zeta, alpha, pg_catalog", "the order of the file, not of the alphabet")
    }

    @Test func eachSchemaOnceWhereItFirstAppears() {
        // public is mapped: it moves to its place among the mapped schemas and is not repeated.
        #expect(StartupSearchPath.auto(schemaOrder: ["app", "public"], serverDefault: "\"$user\",public,app")
            == "app, public, \"$user\"")
        // The server's spelling of a schema counts as the same name (PUBLIC folds to public, "app" is app).
        #expect(StartupSearchPath.auto(schemaOrder: ["app"], serverDefault: "\"app\", PUBLIC, public")
            == "app, PUBLIC")
        #expect(StartupSearchPath.auto(schemaOrder: ["\"Tenant\"", "tenant"], serverDefault: "\"Tenant\"")
            == "\"Tenant\", tenant")
    }

    @Test func namesAreQuotedExactlyWhenPostgreSQLNeedsIt() {
        // As written in YAML: Plain folds to plain; "Mixed Case" is exact; user is a keyword.
        #expect(StartupSearchPath.auto(schemaOrder: ["Plain", "\"Mixed Case\"", "\"user\"", "\"with\"\"quote\""],
                                       serverDefault: "\"$user\", public")
            == "plain, \"Mixed Case\", \"user\", \"with\"\"quote\", \"$user\", public")
        #expect(StartupSearchPath.resolve(.schemas(["Plain", "\"Mixed\"", "public"]), schemaOrder: [],
                                          serverDefault: nil) == .value("plain, \"Mixed\", public"))
    }

    @Test func theServersValueIsSplitLikePostgreSQLDoes() {
        #expect(StartupSearchPath.entries(of: "\"$user\", public") == ["\"$user\"", "public"])
        #expect(StartupSearchPath.entries(of: " a ,\"b, c\",\td") == ["a", "\"b, c\"", "d"])
        #expect(StartupSearchPath.entries(of: "\"\"") == [], "SHOW prints an empty search_path as \"\"")
        #expect(StartupSearchPath.entries(of: "") == [])
        #expect(StartupSearchPath.auto(schemaOrder: ["a"], serverDefault: "\"\"") == "a")
        #expect(StartupSearchPath.auto(schemaOrder: [], serverDefault: "\"$user\", public") == "\"$user\", public")
    }

    @Test func resolveLearnsFirstOnlyForAutoWhileTheServersValueIsUnknown() {
        #expect(StartupSearchPath.resolve(.server, schemaOrder: ["a"], serverDefault: nil) == .serverDefault)
        #expect(StartupSearchPath.resolve(.server, schemaOrder: ["a"], serverDefault: "x") == .serverDefault)
        #expect(StartupSearchPath.resolve(.auto, schemaOrder: ["a"], serverDefault: nil) == .learnServerDefault)
        #expect(StartupSearchPath.resolve(.auto, schemaOrder: ["a", "b"], serverDefault: "pg_catalog")
            == .value("a, b, pg_catalog"))
        #expect(StartupSearchPath.resolve(.schemas([]), schemaOrder: ["a"], serverDefault: nil) == .value(""))
        #expect(StartupSearchPath.resolve(.auto, schemaOrder: [], serverDefault: nil) == .serverDefault,
                "no mapping: the server's own as it is, without learning it")
    }
}
