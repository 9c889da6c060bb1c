import Testing
@testable import ProxyConfig

@Suite struct TLSSettingsTests {
    private func config(_ clientTLS: String, method: String = "scram-sha-256") throws(ConfigError) -> ProxyConfiguration {
        try ProxyConfiguration.parse(yaml: """
            auth: {method: \(method), users: {app: pw}}
            \(clientTLS)
            services: {s: {backend: "postgresql://u@h/db"}}
            """, environment: [:])
    }

    private func key(_ clientTLS: String, method: String = "scram-sha-256") -> String? {
        do {
            _ = try self.config(clientTLS, method: method)
            return nil
        } catch {
            return error.key
        }
    }

    @Test func clientTLSParsesAndDefaultsToDisable() throws {
        #expect(try config("").clientTLS == ClientTLSSettings())
        let tls = try config("""
            client_tls: {mode: verify-full, cert_file: /c.crt, key_file: /c.key, ca_file: /ca.crt,
                         protocols: [TLSv1.3], ciphers: HIGH}
            """).clientTLS
        #expect(tls == ClientTLSSettings(mode: .verifyFull, certificateFile: "/c.crt", keyFile: "/c.key",
                                         caFile: "/ca.crt", protocols: ["TLSv1.3"], ciphers: "HIGH"))
    }

    @Test func clientTLSValidation() {
        #expect(key("client_tls: {mode: require}") == "client_tls.cert_file")
        #expect(key("client_tls: {mode: allow, cert_file: /c}") == "client_tls.key_file")
        #expect(key("client_tls: {mode: verify-full, cert_file: /c, key_file: /k}") == "client_tls.ca_file")
        #expect(key("client_tls: {mode: sometimes}") == "client_tls.mode")
        #expect(key("client_tls: {mode: allow, cert_file: /c, key_file: /k, protocols: [SSLv3]}")
                == "client_tls.protocols[0]")
        #expect(key("client_tls: {mode: allow, cert_file: /c, key_file: /k, protocol: [TLSv1.3]}") != nil)
        #expect(key("client_tls: {mode: require, cert_file: /c, key_file: /k}", method: "cert") == "auth.method")
        #expect(key("client_tls: {mode: verify-full, cert_file: /c, key_file: /k, ca_file: /a}", method: "cert") == nil)
    }

    @Test func backendTLSParametersAreConsumed() throws {
        let url = try BackendURL(parsing: "postgresql://u@h/db?sslmode=verify-full&sslrootcert=/ca.crt"
                                 + "&sslcert=/c.crt&sslkey=/c.key&application_name=x&channel_binding=prefer")
        #expect(url.tls == BackendTLSSettings(mode: .verifyFull, rootCertificateFile: "/ca.crt",
                                              certificateFile: "/c.crt", keyFile: "/c.key"))
        #expect(url.parameters == ["application_name": "x"], "TLS options are not startup parameters")
        #expect(try BackendURL(parsing: "postgresql://u@h/db").tls.mode == .prefer)
        #expect(url.description.contains("sslmode=verify-full"))
    }

    @Test func sslnegotiationDirectNeedsARequiringSSLMode() throws {
        let direct = try BackendURL(parsing: "postgresql://u@h/db?sslmode=require&sslnegotiation=direct")
        #expect(direct.tls.directNegotiation)
        #expect(direct.parameters.isEmpty)
        #expect(direct.description.contains("sslnegotiation=direct"))
        #expect(try !BackendURL(parsing: "postgresql://u@h/db?sslnegotiation=postgres").tls.directNegotiation)
        for weak in ["", "&sslmode=prefer", "&sslmode=allow", "&sslmode=disable"] {
            #expect(throws: ConfigError.self) { try BackendURL(parsing: "postgresql://u@h/db?sslnegotiation=direct" + weak) }
        }
        #expect(throws: ConfigError.self) { try BackendURL(parsing: "postgresql://u@h/db?sslnegotiation=fast") }
    }

    @Test func sslpasswordAndCertificateRevocationLists() throws {
        let url = try BackendURL(parsing: "postgresql://u@h/db?sslmode=verify-full&sslrootcert=/ca&sslcert=/c&sslkey=/k"
                                 + "&sslpassword=hush&sslcrl=/crl.pem&sslcrldir=/crls")
        #expect(url.tls.keyPassword == "hush" && url.tls.crlFile == "/crl.pem" && url.tls.crlDirectory == "/crls")
        #expect(url.parameters.isEmpty)
        #expect(!url.description.contains("hush") && url.description.contains("sslpassword=%2A%2A%2A%2A%2A%2A%2A%2A"))
        #expect(throws: ConfigError.self) { try BackendURL(parsing: "postgresql://u@h/db?sslmode=require&sslcrl=/c") }
        #expect(throws: ConfigError.self) { try BackendURL(parsing: "postgresql://u@h/db?sslpassword=x") }
    }

    @Test func backendTLSValidation() throws {
        #expect(throws: ConfigError.self) { try BackendURL(parsing: "postgresql://u@h/db?sslmode=sure") }
        #expect(throws: ConfigError.self) { try BackendURL(parsing: "postgresql://u@h/db?sslmode=verify-ca") }
        #expect(throws: ConfigError.self) { try BackendURL(parsing: "postgresql://u@h/db?sslmode=require&sslcert=/c") }
        #expect(throws: ConfigError.self) { try BackendURL(parsing: "postgresql://u@h/db?sslmode=require&sslmode=disable") }
        #expect(throws: ConfigError.self) {
            try BackendURL(parsing: "postgresql://u@h/db?channel_binding=require&sslmode=disable")
        }
        // the default sslmode (prefer) may give TLS to bind to, as in libpq
        #expect(try BackendURL(parsing: "postgresql://u@h/db?channel_binding=require").channelBindingRequired)
        #expect(throws: ConfigError.self) { try BackendURL(parsing: "postgresql://u@h/db?require_auth=kerberos") }
        #expect(throws: ConfigError.self) { try BackendURL(parsing: "postgresql://u@h/db?require_auth=md5,!password") }
    }

    @Test func requireAuthIsConsumed() throws {
        let url = try BackendURL(parsing: "postgresql://u@h/db?require_auth=scram-sha-256")
        #expect(url.requireAuth?.allowed == ["scram-sha-256"])
        #expect(url.parameters.isEmpty)
        let negated = try BackendURL(parsing: "postgresql://u@h/db?require_auth=!password,!md5")
        #expect(negated.requireAuth?.allowed == ["gss", "sspi", "scram-sha-256", "none"])
    }
}
