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
        if Self.mentionsSessionAdvisoryLock(text) {
            commands.append(.sessionOnly(what: "session-level advisory locks (use pg_advisory_xact_lock)"))
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
    private static let keywords: [[UInt8]] = ["set", "reset", "deallocate", "discard", "listen", "prepare", "declare"]
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
            return .sessionOnly(what: "LISTEN")
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

    /// pg_advisory_lock / pg_try_advisory_lock (and their _shared forms) hold the lock for the session;
    /// the _xact_ forms (which do not contain "advisory_lock") are fine.
    private static func mentionsSessionAdvisoryLock(_ text: UnsafeRawBufferPointer) -> Bool {
        let advisory = Self.advisory, lock = Self.lock
        var offset = 0
        // Jump from underscore to underscore (memchr is vectorised), then look around each one.
        while offset < text.count, let hit = memchr(text.baseAddress! + offset, Int32(UInt8(ascii: "_")), text.count - offset) {
            let index = hit - UnsafeMutableRawPointer(mutating: text.baseAddress!)
            offset = index + 1
            guard index >= advisory.count, index + 1 + lock.count <= text.count else { continue }
            let before = (0..<advisory.count).allSatisfy { text[index - advisory.count + $0] | 0x20 == advisory[$0] }
            let after = (0..<lock.count).allSatisfy { text[index + 1 + $0] | 0x20 == lock[$0] }
            if before && after { return true }
        }
        return false
    }
}
