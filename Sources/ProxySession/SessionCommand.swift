#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A statement that changes (or depends on) session state the proxy must know about when server
/// connections are shared between clients: settings to replay, prepared statements to forget, and the
/// features transaction pooling cannot offer.
public enum SessionCommand: Equatable, Sendable {
    /// `SET [SESSION] name ...`: `statement` is the statement's own text, replayed as written.
    case set(name: String, statement: String)
    case reset(name: String)
    case resetAll
    /// SQL-level `DEALLOCATE [PREPARE] name` (protocol-level statements share the namespace).
    case deallocate(name: String)
    case deallocateAll
    case discardAll
    /// A feature that needs the same server connection for the whole session (`what` names it).
    case sessionOnly(what: String)
    /// `LISTEN channel` (the channel as PostgreSQL folds it), `UNLISTEN channel`, `UNLISTEN *`.
    case listen(channel: String)
    case unlisten(channel: String)
    case unlistenAll
    /// SQL-level `EXECUTE name` of a name in the proxy's namespace (`__sp...`): under transaction pooling no
    /// client statement has such a name on the server (SQL PREPARE is refused; protocol-level ones are renamed),
    /// so it can only reach one of the proxy's statements, and is answered as for an unknown statement.
    case executeReserved(name: String)
    /// `CREATE [LOCAL|GLOBAL] TEMP[ORARY] ...`: the object lives on the server connection, where the next client
    /// would see it; the connection gets `DISCARD TEMP` before it is lent again.
    case createsTemporary
    /// A statement that may change the session in a way the proxy does not follow (`set_config` with
    /// arguments other than constants, `DO`, `CALL`): the server connection it runs on is reset before
    /// another client gets it.
    case unmodelled(what: String)

    /// The session commands in `text` (one or several statements), in order. Cheap when there are none:
    /// one look at the first word and one `memchr` for `;`, plus a search for advisory locks.
    public static func find(in text: UnsafeRawBufferPointer) -> [SessionCommand] {
        var commands: [SessionCommand] = []
        guard text.count > 0 else { return commands }
        var singleEnd = text.count
        if let semicolon = memchr(text.baseAddress!, Int32(UInt8(ascii: ";")), text.count) {
            let index = semicolon - UnsafeMutableRawPointer(mutating: text.baseAddress!)
            if Self.onlyTerminates(text, at: index) { singleEnd = index } else { singleEnd = -1 }
        }
        if singleEnd >= 0 {
            if let command = Self.classify(text, 0..<singleEnd) { commands.append(command) }
        } else {
            var start = 0
            while start < text.count {
                let end = Self.statementEnd(in: text, from: start)
                if let command = Self.classify(text, start..<end) { commands.append(command) }
                start = end + 1
            }
        }
        let mentions = Self.underscoredMentions(text)
        if mentions.sessionAdvisoryLock {
            commands.append(.sessionOnly(what: "session-level advisory locks (use pg_advisory_xact_lock)"))
        }
        for position in mentions.setConfig {
            if let command = Self.setConfigCall(text, at: position) { commands.append(command) }
        }
        return commands
    }

    /// Whether the first `;` (at `index`) is followed by nothing but more `;` and white space: one statement
    /// with its terminator, as pgbench and most drivers send it.
    private static func onlyTerminates(_ text: UnsafeRawBufferPointer, at index: Int) -> Bool {
        text[(index + 1)...].allSatisfy { $0 == UInt8(ascii: ";") || $0 == 0x20 || ($0 >= 0x09 && $0 <= 0x0D) }
    }

    /// Index of the `;` ending the statement that starts at `start` (or the end of the text).
    private static func statementEnd(in text: UnsafeRawBufferPointer, from start: Int) -> Int {
        var tokenizer = SQLTokenizer(text, from: start)
        return tokenizer.skipToSemicolon() ?? text.count
    }

    /// The statements that start with one of these words are the only ones looked at further.
    private static let keywords: [[UInt8]] = ["set", "reset", "deallocate", "discard", "listen", "unlisten", "prepare",
                                              "declare", "do", "call", "execute", "create"]
        .map { Array($0.utf8) }

    /// Whether the first word of `range` is one of `keywords`, compared in place (no String is made for
    /// the SELECTs and INSERTs that are nearly every statement).
    private static func startsWithKeyword(_ text: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        var tokenizer = SQLTokenizer(UnsafeRawBufferPointer(rebasing: text[..<range.upperBound]), from: range.lowerBound)
        guard let word = tokenizer.nextUnquotedWordRange() else { return false }
        return Self.keywords.contains { keyword in
            keyword.count == word.count && zip(keyword, text[word]).allSatisfy { $0 == $1 | 0x20 }
        }
    }

    private static func classify(_ text: UnsafeRawBufferPointer, _ range: Range<Int>) -> SessionCommand? {
        guard Self.startsWithKeyword(text, range) else { return nil }
        var tokenizer = SQLTokenizer(UnsafeRawBufferPointer(rebasing: text[..<range.upperBound]), from: range.lowerBound)
        guard let (first, _) = tokenizer.next(), case .word(let keyword, false) = first else { return nil }
        var words: [SQLTokenizer.Token] = []
        func word(_ i: Int) -> String? {
            while words.count <= i, let (token, _) = tokenizer.next() { words.append(token) }
            guard i < words.count, case .word(let w, false) = words[i] else { return nil }
            return w
        }
        switch keyword {
        case "set":
            var i = 0
            if word(0) == "local" { return nil }
            if word(0) == "session" {
                if word(1) == "characteristics" || word(1) == "authorization" {
                    let name = word(1) == "authorization" ? "session_authorization" : "session_characteristics"
                    return .set(name: name, statement: Self.string(text, range))
                }
                i = 1
            }
            guard i < 2, let name = Self.settingName(&words, at: i, tokenizer: &tokenizer) else { return nil }
            switch name {
            case "transaction", "constraints": return nil  // transaction-scoped
            default: return .set(name: name, statement: Self.string(text, range))
            }
        case "reset":
            guard let name = Self.settingName(&words, at: 0, tokenizer: &tokenizer) else { return nil }
            return name == "all" ? .resetAll : .reset(name: name)
        case "deallocate":
            var i = 0
            if word(0) == "prepare" { i = 1 }
            _ = word(i)
            guard i < words.count else { return nil }
            switch words[i] {
            case .word("all", quoted: false): return .deallocateAll
            case .word(let name, _): return .deallocate(name: name)
            default: return nil
            }
        case "discard":
            return word(0) == "all" ? .discardAll : nil
        case "listen":
            guard case .word(let channel, _)? = tokenizer.next()?.token else { return nil }
            return .listen(channel: channel)
        case "unlisten":
            switch tokenizer.next()?.token {
            case .word(let channel, _)?: return .unlisten(channel: channel)
            case .symbol(UInt8(ascii: "*"))?: return .unlistenAll
            default: return nil
            }
        case "do":
            return .unmodelled(what: "DO")
        case "create":
            var i = 0
            if word(0) == "or", word(1) == "replace" { i = 2 }
            if word(i) == "local" || word(i) == "global" { i += 1 }
            return word(i) == "temp" || word(i) == "temporary" ? .createsTemporary : nil
        case "execute":
            guard case .word(let name, _)? = tokenizer.next()?.token,
                  ProxyStatementName.escapedClientName(name) != name else { return nil }
            return .executeReserved(name: name)
        case "call":
            return .unmodelled(what: "CALL")
        case "prepare":
            // `PREPARE TRANSACTION 'gid'` is two-phase commit, not a prepared statement.
            return word(0) == "transaction" ? nil : .sessionOnly(what: "SQL-level PREPARE (use protocol-level prepared statements)")
        case "declare":
            // DECLARE name [BINARY] [ASENSITIVE|INSENSITIVE] [[NO] SCROLL] CURSOR [{WITH|WITHOUT} HOLD] FOR ...
            var i = 0
            while let w = word(i), w != "for" {
                if w == "with", word(i + 1) == "hold" { return .sessionOnly(what: "cursors WITH HOLD") }
                i += 1
                if i > 12 { break }
            }
            return nil
        default:
            return nil
        }
    }

    /// The setting a SET/RESET names, starting at word `index`: `a`, `a.b`, or the special forms
    /// (TIME ZONE, SCHEMA, NAMES, ROLE, SESSION AUTHORIZATION).
    private static func settingName(_ words: inout [SQLTokenizer.Token], at index: Int, tokenizer: inout SQLTokenizer) -> String? {
        while words.count <= index + 2, let (token, _) = tokenizer.next() { words.append(token) }
        guard index < words.count, case .word(let name, let quoted) = words[index] else { return nil }
        if !quoted {
            switch name {
            case "time":
                if index + 1 < words.count, words[index + 1] == .word("zone", quoted: false) { return "timezone" }
            case "schema": return "search_path"
            case "names": return "client_encoding"
            case "session":
                if index + 1 < words.count, words[index + 1] == .word("authorization", quoted: false) { return "session_authorization" }
            default: break
            }
        }
        if index + 2 < words.count, words[index + 1] == .symbol(UInt8(ascii: ".")), case .word(let suffix, _) = words[index + 2] {
            return name + "." + suffix
        }
        return name
    }

    private static func string(_ text: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: text[range]), as: UTF8.self)
    }

    private static let advisory = Array("advisory".utf8), lock = Array("lock".utf8)
    private static let setWord = Array("set".utf8), configWord = Array("config".utf8)

    /// Where the text mentions session-level advisory locks (pg_advisory_lock, pg_try_advisory_lock and
    /// their _shared forms; the _xact_ forms do not contain "advisory_lock"), and where `set_config` starts.
    /// Both are found from the underscores in the text, so the usual statement costs one vectorised scan.
    private static func underscoredMentions(
        _ text: UnsafeRawBufferPointer
    ) -> (sessionAdvisoryLock: Bool, setConfig: [Int]) {
        let advisory = Self.advisory, lock = Self.lock, set = Self.setWord, config = Self.configWord
        var sessionAdvisoryLock = false
        var setConfig: [Int] = []
        var offset = 0
        // Jump from underscore to underscore (memchr is vectorised), then look around each one.
        while offset < text.count, let hit = memchr(text.baseAddress! + offset, Int32(UInt8(ascii: "_")), text.count - offset) {
            let index = hit - UnsafeMutableRawPointer(mutating: text.baseAddress!)
            offset = index + 1
            if !sessionAdvisoryLock, Self.matches(advisory, before: index, in: text),
               Self.matches(lock, after: index, in: text) {
                sessionAdvisoryLock = true
            }
            if Self.matches(set, before: index, in: text), Self.matches(config, after: index, in: text),
               index < set.count + 1 || !SQLTokenizer.isIdentifierByte(text[index - set.count - 1]) {
                setConfig.append(index - set.count)
            }
        }
        return (sessionAdvisoryLock, setConfig)
    }

    private static func matches(_ word: [UInt8], before index: Int, in text: UnsafeRawBufferPointer) -> Bool {
        index >= word.count && (0..<word.count).allSatisfy { text[index - word.count + $0] | 0x20 == word[$0] }
    }

    private static func matches(_ word: [UInt8], after index: Int, in text: UnsafeRawBufferPointer) -> Bool {
        index + 1 + word.count <= text.count && (0..<word.count).allSatisfy { text[index + 1 + $0] | 0x20 == word[$0] }
    }

    /// `set_config('name', 'value', false)` at `position` with constant arguments is a SET the proxy follows
    /// (`set_config(..., true)` is transaction-scoped: nothing); any other mention of set_config is a change
    /// it cannot follow.
    static func setConfigCall(_ text: UnsafeRawBufferPointer, at position: Int) -> SessionCommand? {
        var tokenizer = SQLTokenizer(text, from: position)
        let unmodelled = SessionCommand.unmodelled(what: "set_config with arguments other than constants")
        guard case .word("set_config", false)? = tokenizer.next()?.token,
              case .symbol(UInt8(ascii: "("))? = tokenizer.next()?.token,
              let name = Self.plainLiteral(&tokenizer, in: text),
              case .symbol(UInt8(ascii: ","))? = tokenizer.next()?.token,
              let value = Self.plainLiteral(&tokenizer, in: text),
              case .symbol(UInt8(ascii: ","))? = tokenizer.next()?.token,
              case .word(let isLocal, false)? = tokenizer.next()?.token,
              case .symbol(UInt8(ascii: ")"))? = tokenizer.next()?.token else { return unmodelled }
        switch isLocal {
        case "false":
            let setting = name.lowercased()
            return .set(name: setting, statement: SessionSettings.setConfig(setting, value))
        case "true": return nil
        default: return unmodelled
        }
    }

    /// The content of a plain string constant ('...', quotes doubled, no backslash: its meaning would then
    /// depend on standard_conforming_strings), consumed; nil for anything else.
    private static func plainLiteral(_ tokenizer: inout SQLTokenizer, in text: UnsafeRawBufferPointer) -> String? {
        guard let (token, start) = tokenizer.next(), token == .string, text[start] == UInt8(ascii: "'") else {
            return nil
        }
        let end = tokenizer.position
        guard end - start >= 2, text[end - 1] == UInt8(ascii: "'") else { return nil }
        let content = UnsafeRawBufferPointer(rebasing: text[(start + 1)..<(end - 1)])
        guard !content.contains(UInt8(ascii: "\\")) else { return nil }
        return String(decoding: content, as: UTF8.self).replacingOccurrences(of: "''", with: "'")
    }
}
