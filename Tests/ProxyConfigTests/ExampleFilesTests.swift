import Foundation
import Testing
@testable import ProxyConfig

/// The files under conf/ are what users copy; they must stay valid.
@Suite struct ExampleFilesTests {
    static let confDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("conf")
    static let environment = ["APP_PASSWORD": "app-pw", "ADMIN_PASSWORD": "admin-pw", "DB_PASSWORD": "db-pw",
                              "DB_PORT": "5433"]

    @Test func minimalExampleParses() throws {
        let path = Self.confDirectory.appendingPathComponent("schemaproxy.yaml").path
        let config = try ProxyConfiguration.load(path: path, environment: Self.environment)
        #expect(config.auth.method == .scramSHA256)
        #expect(config.services.count == 1)
    }

    @Test func heal7ExampleParses() throws {
        let path = Self.confDirectory.appendingPathComponent("heal7.yaml").path
        let config = try ProxyConfiguration.load(path: path, environment: Self.environment)
        #expect(config.listen == [.tcp(HostAndPort(host: "127.0.0.1", port: 6432))])
        #expect(config.metricsListen == HostAndPort(host: "127.0.0.1", port: 9930))
        #expect(config.auth == AuthSettings(method: .scramSHA256, users: ["app": "app-pw", "admin": "admin-pw"]))
        #expect(config.admin == AdminSettings(database: "schemaproxy", users: ["admin"]))
        #expect(config.services.keys.sorted() == ["dream_service", "saju_service"])
        let backend = BackendURL(hosts: [HostAndPort(host: "127.0.0.1", port: 5433)], user: "heal7_app",
                                 password: "db-pw", database: "heal7")
        let saju = try #require(config.services["saju_service"])
        let dream = try #require(config.services["dream_service"])
        #expect(saju.backend == backend && dream.backend == backend)
        #expect(saju.schemas == ["shared_common": ["users", "attachments"],
                                 "saju_service": ["saju_charts", "kasi_cache"]])
        #expect(dream.schemas == ["shared_common": ["users", "attachments"],
                                  "dream_service": ["dreams", "dream_interpretations"]])
        #expect(saju.searchPath == .server)  // heal7 relies on routing, not on search_path
        #expect(dream.searchPath == .server)
    }

    @Test func readmeExampleParses() throws {
        let readme = try String(contentsOf: Self.confDirectory.appendingPathComponent("README.md"), encoding: .utf8)
        let start = try #require(readme.range(of: "```yaml\n"))
        let end = try #require(readme.range(of: "```", range: start.upperBound..<readme.endIndex))
        let config = try ProxyConfiguration.parse(yaml: String(readme[start.upperBound..<end.lowerBound]),
                                                  environment: Self.environment)
        #expect(config.services["saju_service"]?.retry.attempts == 3)
        #expect(config.services["saju_service"]?.backend.hosts.count == 2)
    }

    @Test func heal7ExampleNeedsItsVariables() {
        let path = Self.confDirectory.appendingPathComponent("heal7.yaml").path
        var environment = Self.environment
        environment["DB_PORT"] = nil
        let error = #expect(throws: ConfigError.self) {
            try ProxyConfiguration.load(path: path, environment: environment)
        }
        #expect(error?.message.contains("DB_PORT") == true)
    }
}
