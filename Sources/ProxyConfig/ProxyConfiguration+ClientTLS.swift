import Yams

extension ProxyConfiguration {
    static let clientTLSKeys = ["mode", "cert_file", "key_file", "ca_file", "protocols", "ciphers"]

    /// `client_tls`: absent or null is `mode: disable`. A mode other than disable needs `cert_file` and `key_file`;
    /// `verify-full` needs `ca_file`; `auth.method: cert` needs `verify-full`.
    static func parseClientTLS(
        _ node: Node?, auth: AuthSettings, reader: ConfigReader
    ) throws(ConfigError) -> ClientTLSSettings {
        var settings = ClientTLSSettings()
        if let node, !ConfigReader.isNull(node) {
            let mapping = try reader.mapping(node, path: "client_tls", allowed: clientTLSKeys)
            if let value = mapping["mode"] {
                settings.mode = try reader.choice(value, path: "client_tls.mode", as: ClientTLSSettings.Mode.self)
            }
            if let value = mapping["cert_file"] {
                settings.certificateFile = try reader.nonEmptyString(value, path: "client_tls.cert_file")
            }
            if let value = mapping["key_file"] {
                settings.keyFile = try reader.nonEmptyString(value, path: "client_tls.key_file")
            }
            if let value = mapping["ca_file"] {
                settings.caFile = try reader.nonEmptyString(value, path: "client_tls.ca_file")
            }
            if let value = mapping["protocols"] {
                let names = try reader.stringList(value, path: "client_tls.protocols")
                guard !names.isEmpty else {
                    throw ConfigError(key: "client_tls.protocols", message: "must name at least one of TLSv1.2, TLSv1.3")
                }
                for (index, name) in names.enumerated() where !ClientTLSSettings.protocolNames.contains(name) {
                    throw ConfigError(key: "client_tls.protocols[\(index)]",
                                      message: "\"\(name)\" is not one of TLSv1.2 | TLSv1.3")
                }
                settings.protocols = names
            }
            if let value = mapping["ciphers"] {
                settings.ciphers = try reader.nonEmptyString(value, path: "client_tls.ciphers")
            }
        }
        if settings.isEnabled {
            guard settings.certificateFile != nil else {
                throw ConfigError(key: "client_tls.cert_file", message: "needed for mode \(settings.mode.rawValue)")
            }
            guard settings.keyFile != nil else {
                throw ConfigError(key: "client_tls.key_file", message: "needed for mode \(settings.mode.rawValue)")
            }
        }
        if settings.mode == .verifyFull, settings.caFile == nil {
            throw ConfigError(key: "client_tls.ca_file", message: "needed for mode verify-full (it checks client certificates)")
        }
        if auth.method == .cert, settings.mode != .verifyFull {
            throw ConfigError(key: "auth.method",
                              message: "cert needs client_tls.mode: verify-full (the client certificate names the user)")
        }
        return settings
    }
}
