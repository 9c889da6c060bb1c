/// TLS towards clients (`client_tls`). The files are read when the configuration is prepared and again on every
/// reload; see conf/README.md.
public struct ClientTLSSettings: Sendable, Equatable {
    /// `client_tls.mode`: what the proxy answers to an SSLRequest and whether plaintext clients may log in.
    public enum Mode: String, Sendable, Equatable, CaseIterable {
        /// Answer `N`: no TLS.
        case disable
        /// TLS for clients that ask; plaintext clients are welcome too.
        case allow
        /// Plaintext clients are refused with 28000 before authentication.
        case require
        /// As `require`, and the client must present a certificate signed by `ca_file`.
        case verifyFull = "verify-full"
    }

    public var mode: Mode
    public var certificateFile: String?
    public var keyFile: String?
    public var caFile: String?
    /// `protocols`: the allowed TLS versions by name (`TLSv1.2`, `TLSv1.3`) [both].
    public var protocols: [String]
    /// `ciphers`: an OpenSSL cipher list for TLS 1.2 [OpenSSL's default].
    public var ciphers: String?

    public static let protocolNames = ["TLSv1.2", "TLSv1.3"]

    public init(
        mode: Mode = .disable, certificateFile: String? = nil, keyFile: String? = nil, caFile: String? = nil,
        protocols: [String] = ClientTLSSettings.protocolNames, ciphers: String? = nil
    ) {
        self.mode = mode
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.caFile = caFile
        self.protocols = protocols
        self.ciphers = ciphers
    }

    public var isEnabled: Bool { self.mode != .disable }
}
