/// TLS towards a service's servers: libpq's `sslmode`, `sslrootcert`, `sslcert` and `sslkey` in the backend URL,
/// consumed there (never sent to the server as startup parameters).
public struct BackendTLSSettings: Sendable, Hashable {
    /// libpq's `sslmode`, with libpq's default, `prefer`. Over a Unix-domain socket no TLS is asked for, whatever
    /// the mode, as in libpq.
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        /// Plaintext only.
        case disable
        /// Plaintext first; if the server refuses that login (pg_hba `hostssl` only, say), again with TLS.
        case allow
        /// TLS if the server offers it, else plaintext; if the handshake fails, or the server refuses the login
        /// over TLS, again in plaintext.
        case prefer
        /// TLS or no connection; the certificate is not checked.
        case require
        /// TLS, and the server's certificate must be signed by `sslrootcert`.
        case verifyCA = "verify-ca"
        /// As `verify-ca`, and the host name (or IP address) connected to must be in the certificate.
        case verifyFull = "verify-full"

        /// Whether the server must agree to TLS.
        public var requiresTLS: Bool { self == .require || self == .verifyCA || self == .verifyFull }
    }

    public var mode: Mode
    public var rootCertificateFile: String?
    public var certificateFile: String?
    public var keyFile: String?
    /// libpq 17's `sslnegotiation=direct`: a TLS ClientHello (ALPN `postgresql`) as the first bytes, no SSLRequest.
    /// Needs `sslmode` require, verify-ca or verify-full, as in libpq.
    public var directNegotiation = false
    /// `sslpassword`: the passphrase of an encrypted `sslkey`.
    public var keyPassword: String?
    /// `sslcrl`, `sslcrldir`: revoked certificates (a PEM file, a directory of hashed names), checked with
    /// verify-ca and verify-full.
    public var crlFile: String?
    public var crlDirectory: String?

    public init(mode: Mode = .prefer, rootCertificateFile: String? = nil, certificateFile: String? = nil,
                keyFile: String? = nil) {
        self.mode = mode
        self.rootCertificateFile = rootCertificateFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    static let parameterNames: Set<String> = [
        "sslmode", "sslrootcert", "sslcert", "sslkey", "sslnegotiation", "sslpassword", "sslcrl", "sslcrldir",
    ]

    /// Takes one URL query parameter if it is a TLS one; false for others.
    mutating func consume(_ name: String, _ value: String) throws(FieldError) -> Bool {
        switch name {
        case "sslmode":
            guard let mode = Mode(rawValue: value) else {
                let choices = Mode.allCases.map(\.rawValue).joined(separator: ", ")
                throw FieldError("sslmode \"\(value)\" is not one of \(choices)")
            }
            self.mode = mode
        case "sslrootcert": self.rootCertificateFile = value
        case "sslcert": self.certificateFile = value
        case "sslkey": self.keyFile = value
        case "sslpassword": self.keyPassword = value
        case "sslcrl": self.crlFile = value
        case "sslcrldir": self.crlDirectory = value
        case "sslnegotiation":
            guard value == "postgres" || value == "direct" else {
                throw FieldError("sslnegotiation \"\(value)\" is not one of postgres, direct")
            }
            self.directNegotiation = value == "direct"
        default: return false
        }
        return true
    }

    /// The combination makes sense: verify modes need a CA file, a client certificate needs its key.
    func validate() throws(FieldError) {
        if self.mode == .verifyCA || self.mode == .verifyFull, self.rootCertificateFile == nil {
            throw FieldError("sslmode=\(self.mode.rawValue) needs sslrootcert (the CA file the server's certificate is checked against)")
        }
        if self.directNegotiation, !self.mode.requiresTLS {
            throw FieldError(
                "sslnegotiation=direct needs sslmode require, verify-ca or verify-full (not \(self.mode.rawValue))")
        }
        if self.crlFile != nil || self.crlDirectory != nil, self.mode != .verifyCA, self.mode != .verifyFull {
            throw FieldError(
                "sslcrl and sslcrldir apply when the server's certificate is checked: sslmode=verify-ca or verify-full")
        }
        if self.keyPassword != nil, self.keyFile == nil {
            throw FieldError("sslpassword is the passphrase of sslkey, which is not given")
        }
        if (self.certificateFile == nil) != (self.keyFile == nil) {
            throw FieldError("sslcert and sslkey go together")
        }
    }

    /// As URL query items, for display (`sslpassword` is hidden).
    var queryItems: [(String, String)] {
        guard self != BackendTLSSettings() else { return [] }
        var items = [("sslmode", self.mode.rawValue)]
        if let rootCertificateFile { items.append(("sslrootcert", rootCertificateFile)) }
        if let certificateFile { items.append(("sslcert", certificateFile)) }
        if let keyFile { items.append(("sslkey", keyFile)) }
        if self.directNegotiation { items.append(("sslnegotiation", "direct")) }
        if self.keyPassword != nil { items.append(("sslpassword", "********")) }  // for display only: never shown
        if let crlFile { items.append(("sslcrl", crlFile)) }
        if let crlDirectory { items.append(("sslcrldir", crlDirectory)) }
        return items
    }
}
