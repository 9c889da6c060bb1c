import DataPlane
import ProxyAuth
import ProxyConfig
import ProxySession
import SchemaRouting

/// A configuration checked beyond what the YAML loader checks, with the expensive parts derived once:
/// each service's schema mapping and each user's credential (a SCRAM verifier from a plain password).
public struct PreparedConfiguration: Sendable {
    public let configuration: ProxyConfiguration
    public let mappings: [String: SchemaMapping]
    let credentials: [String: UserCredential]
    let loginMethod: LoginMethod
    /// The client_tls context, loaded from its files now (and again at each reload); nil for mode disable.
    let clientTLS: TLSContext?
    /// The backend TLS contexts (sslmode other than disable), by settings; published when applied.
    let backendTLS: [BackendTLSSettings: TLSContext]

    public init(_ configuration: ProxyConfiguration) throws(ConfigError) {
        self.configuration = configuration
        var mappings: [String: SchemaMapping] = [:]
        for (name, service) in configuration.services {
            do {
                mappings[name] = try SchemaMapping(schemas: service.schemas, legacySchemas: service.legacySchemas)
            } catch {
                throw ConfigError(key: "services.\(name).schemas", message: error.description)
            }
        }
        self.mappings = mappings
        var credentials: [String: UserCredential] = [:]
        for (user, secret) in configuration.auth.users {
            do {
                credentials[user] = UserCredential(stored: try StoredCredential(parsing: secret))
            } catch {
                throw ConfigError(key: "auth.users.\(user)", message: error.description)
            }
        }
        self.credentials = credentials
        switch configuration.auth.method {
        case .trust: self.loginMethod = .trust
        case .md5: self.loginMethod = .md5
        case .scramSHA256: self.loginMethod = .scramSHA256
        case .cert: self.loginMethod = .cert
        }
        self.clientTLS = try Self.makeClientTLSContext(configuration.clientTLS)
        self.backendTLS = try BackendTLSContexts.load(configuration)
    }

    /// Reads, validates and prepares a config file. `unusedSecrets` names what the command does not use
    /// (`rewrite`, `mapping discover`): an unset `${NAME}` there does not stop it.
    public static func load(
        path: String, unusedSecrets: UnusedSecrets = .none
    ) throws(ConfigError) -> PreparedConfiguration {
        try PreparedConfiguration(ProxyConfiguration.load(path: path, unusedSecrets: unusedSecrets))
    }

    static func makeClientTLSContext(_ settings: ClientTLSSettings) throws(ConfigError) -> TLSContext? {
        guard settings.isEnabled else { return nil }
        let versions = settings.protocols.compactMap(TLSProtocolVersion.init(rawValue:))
        guard let lowest = versions.min(), let highest = versions.max() else {
            throw ConfigError(key: "client_tls.protocols", message: "no known protocol")
        }
        do {
            return try TLSContext(
                role: .server, certificateFile: settings.certificateFile, keyFile: settings.keyFile,
                caFile: settings.caFile, verification: settings.mode == .verifyFull ? .chain : .none,
                protocols: lowest ... highest, ciphers: settings.ciphers)
        } catch {
            throw ConfigError(key: "client_tls", message: error.description)
        }
    }
}
