import Yams

/// Walks the YAML tree with full key paths, so every error can name the key it is about.
///
/// It substitutes `${...}` in scalar values, rejects unknown and duplicate keys, and converts scalars to the types
/// the configuration needs. Every scalar is read as text and converted here, so `pool_size: "10"` and
/// `pool_size: ${POOL_SIZE}` behave the same as `pool_size: 10`.
struct ConfigReader {
    var environment: [String: String]
    /// When set, an unset `${NAME}` reads as this text instead of being an error: for sections a command does not
    /// use (the client credentials under `auth` for `rewrite` and `mapping discover`).
    var unsetPlaceholder: String? = nil

    /// One YAML mapping whose keys have been checked against the allowed set.
    struct Mapping {
        var path: String
        var entries: [String: Node]
        /// Keys in file order.
        var keys: [String]

        func path(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
        subscript(_ key: String) -> Node? { entries[key] }
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// Reads `node` as a mapping; with `allowed`, any other key is an error naming its full path.
    func mapping(_ node: Node, path: String, allowed: [String]?) throws(ConfigError) -> Mapping {
        guard case .mapping(let mapping) = node else {
            throw ConfigError(key: path, message: "must be a mapping of keys to values")
        }
        var result = Mapping(path: path, entries: [:], keys: [])
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                throw ConfigError(key: path, message: "keys must be plain names")
            }
            let key = scalar.string
            let keyPath = Self.join(path, key)
            if let allowed, !allowed.contains(key) {
                var message = "unknown key"
                if let suggestion = Self.closest(to: key, in: allowed) {
                    message += " (did you mean \(suggestion)?)"
                }
                throw ConfigError(key: keyPath, message: message)
            }
            guard result.entries[key] == nil else {
                throw ConfigError(key: keyPath, message: "key appears twice")
            }
            result.entries[key] = value
            result.keys.append(key)
        }
        return result
    }

    /// Whether `node` is YAML null (`key:` with nothing, `~`, `null`).
    static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// A scalar value with `${...}` substituted.
    func string(_ node: Node, path: String) throws(ConfigError) -> String {
        guard case .scalar(let scalar) = node else {
            throw ConfigError(key: path, message: "must be a single value, not a list or mapping")
        }
        if Self.isNull(node) {
            throw ConfigError(key: path, message: "needs a value")
        }
        do {
            return try EnvironmentSubstitution.substitute(
                scalar.string, environment: environment, unsetPlaceholder: unsetPlaceholder
            )
        } catch {
            throw ConfigError(key: path, message: error.message)
        }
    }

    func nonEmptyString(_ node: Node, path: String) throws(ConfigError) -> String {
        let value = try string(node, path: path)
        guard !value.isEmpty else { throw ConfigError(key: path, message: "must not be empty") }
        return value
    }

    func integer(_ node: Node, path: String, minimum: Int) throws(ConfigError) -> Int {
        let text = try string(node, path: path)
        guard text.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(text), value >= minimum else {
            let message = minimum == 1 ? "must be a positive integer" : "must be an integer of at least \(minimum)"
            throw ConfigError(key: path, message: "\(message), not \"\(text)\"")
        }
        return value
    }

    func duration(_ node: Node, path: String, allowZero: Bool = true) throws(ConfigError) -> Duration {
        let text = try string(node, path: path)
        guard let value = ConfigDuration.parse(text) else {
            throw ConfigError(
                key: path,
                message: "\"\(text)\" is not a duration (write e.g. 500ms, 5s, 10m, 1h, 1m30s or 0)"
            )
        }
        guard allowZero || value > .zero else {
            throw ConfigError(key: path, message: "must be longer than 0")
        }
        return value
    }

    func hostAndPort(_ node: Node, path: String) throws(ConfigError) -> HostAndPort {
        let text = try string(node, path: path)
        do {
            return try HostAndPort.parse(text, defaultPort: nil, allowPortZero: true)
        } catch {
            throw ConfigError(key: path, message: error.message)
        }
    }

    /// `listen`: one address or a list of them (see ``ListenAddress``).
    func listenAddresses(_ node: Node, path: String) throws(ConfigError) -> [ListenAddress] {
        let entries: [String]
        if case .sequence = node {
            entries = try stringList(node, path: path)
            guard !entries.isEmpty else { throw ConfigError(key: path, message: "needs at least one address") }
        } else {
            entries = [try nonEmptyString(node, path: path)]
        }
        do {
            return try ListenAddress.parseList(entries)
        } catch {
            throw ConfigError(key: path, message: error.message)
        }
    }

    func choice<Value: RawRepresentable & CaseIterable>(
        _ node: Node, path: String, as type: Value.Type
    ) throws(ConfigError) -> Value where Value.RawValue == String {
        let text = try string(node, path: path)
        guard let value = Value(rawValue: text) else {
            let choices = Value.allCases.map(\.rawValue).joined(separator: " | ")
            throw ConfigError(key: path, message: "\"\(text)\" is not one of \(choices)")
        }
        return value
    }

    /// A YAML list of scalars (`[a, b]` or a block list); element paths are `path[0]`, `path[1]`, ...
    func stringList(_ node: Node, path: String) throws(ConfigError) -> [String] {
        guard case .sequence(let sequence) = node else {
            throw ConfigError(key: path, message: "must be a list, like [a, b]")
        }
        var values: [String] = []
        for (index, element) in sequence.enumerated() {
            values.append(try nonEmptyString(element, path: "\(path)[\(index)]"))
        }
        return values
    }

    /// The allowed key closest to a misspelled one, if it is close enough to be a likely typo.
    static func closest(to key: String, in allowed: [String]) -> String? {
        let scored = allowed.map { ($0, editDistance(key, $0)) }.min { $0.1 < $1.1 }
        guard let (best, distance) = scored, distance <= max(2, key.count / 4) else { return nil }
        return best
    }

    private static func editDistance(_ lhs: String, _ rhs: String) -> Int {
        let a = Array(lhs), b = Array(rhs)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = Swift.min(
                    previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                )
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}
