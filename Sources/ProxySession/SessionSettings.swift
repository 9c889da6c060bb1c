import Synchronization

/// The session settings a client expects in effect on whichever server connection serves it (what it
/// sent at startup, then what its own `SET`s changed), or the settings a server connection currently
/// carries on top of its own startup values. Each setting is kept as the statement that establishes it,
/// so moving a server connection from one client's settings to another's is a few statements.
///
/// Transaction pooling compares a client's settings with a server connection's at every lease. Each value
/// carries an identity that copies keep and every change replaces, so equal identities mean equal
/// settings and that comparison is usually one integer compare (see ``canonical(in:)``).
public struct SessionSettings: Equatable, Sendable {
    /// Setting name (lower case) -> statement that establishes it.
    public private(set) var statements: [String: String] = [:] {
        didSet { self.identity = Self.newIdentity() }
    }
    /// 0 for every value made empty by `init()`; otherwise unique to this value and its unchanged copies.
    private var identity: UInt64 = 0
    private static let identities = Atomic<UInt64>(0)

    private static func newIdentity() -> UInt64 {
        Self.identities.wrappingAdd(1, ordering: .relaxed).newValue
    }

    public init() {}

    public static func == (lhs: SessionSettings, rhs: SessionSettings) -> Bool {
        lhs.identity == rhs.identity || lhs.statements == rhs.statements
    }

    /// The value in `registry` equal to this one, so that clients with the same startup settings share one
    /// identity; this value (added) when there is none yet and the registry has room.
    public func canonical(in registry: inout [[String: String]: SessionSettings], limit: Int = 256) -> SessionSettings {
        if let shared = registry[self.statements] { return shared }
        if registry.count < limit { registry[self.statements] = self }
        return self
    }

    /// Settings from the client's startup packet: every run-time parameter except the ones that name the
    /// login (user, database, replication), with `options` expanded (`-c name=value`, `--name=value`).
    /// Parameters the server reported with an equal value (e.g. client_encoding `utf-8` vs `UTF8`) are
    /// left out: they cost nothing to keep as they are.
    public init(startupParameters: [(name: String, value: String)], serverReported: [String: String]) {
        for (key, value) in Self.startupValues(startupParameters) {
            if let reported = serverReported[key], Self.loosely(reported) == Self.loosely(value) { continue }
            self.statements[key] = Self.setConfig(key, value)
        }
        // An initializer's own assignments do not run `didSet`.
        self.identity = Self.newIdentity()
    }

    /// The run-time settings a startup packet asks for, by lower-case name: every parameter except the
    /// ones that name the login, with `options` expanded. Later ones win, as in PostgreSQL.
    public static func startupValues(_ parameters: [(name: String, value: String)]) -> [String: String] {
        var values: [String: String] = [:]
        for (name, value) in parameters {
            switch name {
            case "user", "database", "replication": continue
            case "options": for (option, optionValue) in Self.parseOptions(value) { values[option.lowercased()] = optionValue }
            default: values[name.lowercased()] = value
            }
        }
        return values
    }

    public var isEmpty: Bool { self.statements.isEmpty }

    public mutating func set(_ name: String, statement: String) {
        self.statements[name] = statement
    }

    public mutating func remove(_ name: String) {
        self.statements[name] = nil
    }

    /// A client's session command, as it changes the settings its session expects; `startup` are the
    /// settings it began with (what RESET goes back to).
    public mutating func apply(_ command: SessionCommand, startup: SessionSettings) {
        switch command {
        case .set(let name, let statement):
            self.set(name, statement: statement)
        case .reset(let name):
            if let value = startup.statements[name] { self.set(name, statement: value) } else { self.remove(name) }
        case .resetAll, .discardAll:
            self = startup
        case .deallocate, .deallocateAll, .sessionOnly, .unmodelled, .listen, .unlisten, .unlistenAll, .executeReserved,
             .createsTemporary:
            break
        }
    }

    /// The statements that take a server connection from `current` to these settings: `RESET` for what
    /// only `current` has, the establishing statement for what differs.
    public func statements(from current: SessionSettings) -> [String] {
        var result: [String] = []
        for name in current.statements.keys.sorted() where self.statements[name] == nil {
            result.append("RESET " + SQLQuoting.identifier(name))
        }
        for (name, statement) in self.statements.sorted(by: { $0.key < $1.key }) where current.statements[name] != statement {
            result.append(statement)
        }
        return result
    }

    /// `set_config` takes the value as the startup packet and the config file do, so list-valued settings
    /// (search_path) and any type work without SQL-level quoting rules.
    public static func setConfig(_ name: String, _ value: String) -> String {
        "SELECT pg_catalog.set_config(\(SQLQuoting.literal(name)), \(SQLQuoting.literal(value)), false)"
    }

    /// Case, punctuation and spaces do not matter for comparing setting values (`UTF8`/`utf-8`, `ISO, MDY`).
    public static func loosely(_ value: String) -> String {
        String(value.lowercased().unicodeScalars.filter { isAlphanumeric($0) }.map(Character.init))
    }

    /// libpq's `options`: switches separated by spaces (a backslash escapes the next character);
    /// `-c name=value` and `--name=value` set run-time parameters; other switches are ignored.
    static func parseOptions(_ options: String) -> [(String, String)] {
        var words: [String] = []
        var current = ""
        var escaped = false
        var inWord = false
        for character in options {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
                inWord = true
            } else if character == " " || character == "\t" {
                if inWord { words.append(current); current = ""; inWord = false }
            } else {
                current.append(character)
                inWord = true
            }
        }
        if inWord { words.append(current) }
        var pairs: [(String, String)] = []
        var index = 0
        while index < words.count {
            var assignment: String?
            if words[index] == "-c", index + 1 < words.count {
                assignment = words[index + 1]
                index += 1
            } else if words[index].hasPrefix("-c") {
                assignment = String(words[index].dropFirst(2))
            } else if words[index].hasPrefix("--") {
                assignment = String(words[index].dropFirst(2))
            }
            index += 1
            guard let assignment, let equals = assignment.firstIndex(of: "=") else { continue }
            let name = assignment[..<equals].replacingOccurrences(of: "-", with: "_")
            pairs.append((name, String(assignment[assignment.index(after: equals)...])))
        }
        return pairs
    }
}

@inline(__always)
private func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
    scalar.properties.isAlphabetic || scalar.properties.numericType != nil
}

/// Quoting for the few statements the proxy writes itself.
public enum SQLQuoting {
    /// An escape-string literal: correct whatever `standard_conforming_strings` says.
    public static func literal(_ value: String) -> String {
        var out = "E'"
        for character in value {
            switch character {
            case "'": out += "''"
            case "\\": out += "\\\\"
            default: out.append(character)
            }
        }
        return out + "'"
    }

    public static func identifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
