/// Why a configuration was rejected: the full key path (`services.saju_service.pool_size`) and what is wrong with it.
///
/// `schemaproxy check` prints ``description``; a reload that fails logs it and keeps the old configuration. `key` is
/// empty for errors about the file as a whole (unreadable, not YAML).
public struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    public var key: String
    public var message: String

    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }

    /// `"<key>: <message>"`, or just the message when there is no key.
    public var description: String { key.isEmpty ? message : "\(key): \(message)" }
}
