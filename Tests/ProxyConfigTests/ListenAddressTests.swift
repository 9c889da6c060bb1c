import ProxyConfig
import Testing

@Suite struct ListenAddressTests {
    @Test func aSocketDirectoryTakesThePortOfTheTCPAddressBesideIt() throws {
        let config = try ProxyConfiguration.parse(
            yaml: minimalConfig + "\nlisten: [127.0.0.1:7432, /var/run/schemaproxy/]", environment: [:])
        #expect(config.listen == [.tcp(HostAndPort(host: "127.0.0.1", port: 7432)),
                                  .unixSocket(directory: "/var/run/schemaproxy", port: 7432)])
        #expect(config.listen[1].socketPath == "/var/run/schemaproxy/.s.PGSQL.7432")
        #expect(config.listen[1].description == "/var/run/schemaproxy/.s.PGSQL.7432")
    }

    @Test func aSocketDirectoryAloneUses6432() throws {
        let config = try ProxyConfiguration.parse(yaml: minimalConfig + "\nlisten: /tmp", environment: [:])
        #expect(config.listen == [.unixSocket(directory: "/tmp", port: 6432)])
        #expect(config.listen[0].socketPath == "/tmp/.s.PGSQL.6432")
    }

    @Test func mistakesNameTheKey() {
        expectConfigError(minimalConfig + "\nlisten: []", key: "listen", "at least one")
        expectConfigError(minimalConfig + "\nlisten: [127.0.0.1:1, 127.0.0.1:1]", key: "listen", "twice")
        expectConfigError(minimalConfig + "\nlisten: [127.0.0.1]", key: "listen", "needs a port")
        let long = "/" + String(repeating: "d", count: 100)
        expectConfigError(minimalConfig + "\nlisten: \(long)", key: "listen", "107 bytes")
    }

    @Test func backendSocketDirectoriesFollowLibpq() throws {
        let byParameter = try BackendURL(parsing: "postgresql://app:pw@/heal7?host=/var/run/postgresql&port=5433")
        #expect(byParameter.hosts == [HostAndPort(host: "/var/run/postgresql", port: 5433)])
        #expect(byParameter.hosts[0].isSocketDirectory)
        #expect(byParameter.hosts[0].socketPath == "/var/run/postgresql/.s.PGSQL.5433")
        #expect(byParameter.parameters.isEmpty, "host and port are not startup parameters for the server")

        let encoded = try BackendURL(parsing: "postgresql://app@%2Fvar%2Frun%2Fpostgresql/heal7")
        #expect(encoded.hosts == [HostAndPort(host: "/var/run/postgresql", port: 5432)])

        let mixed = try BackendURL(parsing: "postgresql://app@x/db?host=/run/pg,db2&port=5432,5433")
        #expect(mixed.hosts == [HostAndPort(host: "/run/pg", port: 5432), HostAndPort(host: "db2", port: 5433)])
        #expect(!mixed.hosts[1].isSocketDirectory)

        #expect(throws: ConfigError.self) { try BackendURL(parsing: "postgresql://app@/db") }
        #expect(throws: ConfigError.self) { try BackendURL(parsing: "postgresql://app@/db?host=a,b,c&port=1,2") }
    }
}
