#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads libpg_query's JSON parse tree straight from its bytes and finds every unqualified, mapped table reference
/// that must gain a schema, honouring the scope of CTE names.
///
/// Decoding the tree into objects costs many times the parse itself, so this is one forward pass over the bytes
/// with an explicit stack (no recursion: deeply nested expressions cannot exhaust the thread's stack). It records
/// only what it needs: `RangeVar` nodes whose name is mapped, the CTE names of every `WITH`, the statements
/// (DROP, COMMENT ON) whose table names the tree carries without a location, and where `A_Const` nodes are. Because a
/// statement's `withClause` comes after its `fromClause` in the JSON, CTE scoping is resolved after the pass, from a
/// table of scopes.
///
/// Which `RangeVar`s are table references, and which can name a CTE:
/// - FROM items (`fromClause`, `JOIN` operands, `DELETE ... USING`, `MERGE ... USING`, `TABLESAMPLE`) are looked up
///   among the CTE names in scope first, as PostgreSQL does;
/// - every other `RangeVar` (DML targets, DDL, COPY, LOCK, GRANT, REFERENCES, ...) always names a relation:
///   PostgreSQL never resolves those against CTEs;
/// - never qualified: `FOR UPDATE OF x` (names a FROM item, must stay unqualified), `CREATE TYPE x AS (...)` and
///   `ALTER TYPE x ... ATTRIBUTE` (type names), `IMPORT FOREIGN SCHEMA ... LIMIT TO (x)` (remote names),
///   `SET CONSTRAINTS x` (constraint names), temporary relations being created (they cannot have a schema), and
///   anything inside `CREATE SCHEMA s CREATE ...` (PostgreSQL creates and resolves those in `s`).
struct TableReferenceCollector {
    /// The statements whose table names must be found by token position: their JSON and their text.
    struct ObjectNameStatement {
        /// The JSON of the `DropStmt` or `CommentStmt` node body, `{...}`.
        var tree: Range<Int>
        /// The statement's bytes within the whole text.
        var text: Range<Int>
    }

    private enum Node: UInt8 {
        case none, other
        case selectStmt, insertStmt, updateStmt, deleteStmt, mergeStmt
        case joinExpr, rangeTableSample, lockingClause, commonTableExpr
        case compositeTypeStmt, importForeignSchemaStmt, constraintsSetStmt
        case dropStmt, commentStmt, alterTableStmt, renameStmt, createSchemaStmt
        case aConst, funcCall, typeCast, string, columnRef

        var isStatementScope: Bool {
            switch self {
            case .selectStmt, .insertStmt, .updateStmt, .deleteStmt, .mergeStmt: return true
            default: return false
            }
        }
    }

    private enum Field: UInt8 {
        case other, nodeName
        case relname, schemaname, catalogname, relpersistence, location
        case ctename, recursive, withClause
        case fromClause, usingClause, sourceRelation, larg, rarg, relation
        case lockedRels, typevar, tableList, constraints, objtype, relationType
        case stmtLocation, stmtLen
        case funcname, args, arg, typeName, sval, fields
    }

    /// Where a `RangeVar` sits decides how it is treated.
    private enum Position {
        case fromItem, relation, never
    }

    /// One open JSON object or array.
    private struct Entry {
        var isObject: Bool
        /// The node type when this object is a node's body (`{"SelectStmt": <this>}`), else `.none`.
        var node: Node
        /// Nearest enclosing node body, its index in the stack (-1 when none), and the field under it that leads here.
        var contextNode: Node
        var contextIndex: Int32
        var contextField: Field
        /// The last key read in this object, and the node type it names when it is one.
        var field: Field = .other
        var keyNode: Node = .none
        /// The statement scope (index into `frames`) this value belongs to, or -1 outside any.
        var frame: Int32
        /// Inside the body of CTE number `via` of `frame`'s WITH, or -1.
        var via: Int32
        var suppressed: Bool
        var start: Int32
        var mark: Int32 = 0
        var isTypeTarget = false
        // RangeVar fields, filled when the keys appear.
        var relnameStart: Int32 = -1
        var relnameLength: Int32 = 0
        var qualified = false
        var schemanameStart: Int32 = -1
        var schemanameLength: Int32 = 0
        var hasCatalog = false
        var temporary = false
        var location: Int32 = -1
        // FuncCall / TypeCast: the parts of the function or type name, the number of arguments seen, and the string
        // constant that is the first argument (the cast's operand).
        // ColumnRef: its fields, counted in `argCount`, the first two names as for a function.
        var nameParts: Int32 = 0
        var firstName: Range<Int32> = 0..<0
        var secondName: Range<Int32> = 0..<0
        var lastName: Range<Int32> = 0..<0
        var argCount: Int32 = 0
        var literalLocation: Int32 = -1
        var literalValue: Range<Int32> = 0..<0
        // A_Const: its string value in the JSON, when it is a string.
        var svalStart: Int32 = -1
        var svalLength: Int32 = 0
    }

    /// A statement that may own a WITH: the scope its CTE names are visible in.
    private struct Frame {
        var parent: Int32
        /// Which CTE body of `parent` this statement is (in), or -1 for the parent's main statement.
        var via: Int32
        var cteCount: Int32 = 0
        var recursive = false
    }

    private struct CommonTable {
        var frame: Int32
        var index: Int32
        var name: Range<Int>
    }

    private struct Candidate {
        var offset: Int
        var schema: Int
        var frame: Int32
        var isFromItem: Bool
        var name: Range<Int>
        var replacing = 0
    }

    /// A string constant in a position where PostgreSQL reads it as a `regclass`: its location in the text and its
    /// value's range in the JSON.
    private struct RegclassLiteral {
        var location: Int
        var value: Range<Int>
    }

    private let tree: UnsafeBufferPointer<UInt8>
    private let text: UnsafeRawBufferPointer
    private let names: MappedNameTable
    private var stack: [Entry] = []
    private var frames: [Frame] = []
    private var commonTables: [CommonTable] = []
    private var candidates: [Candidate] = []
    private var statements: [(location: Int, length: Int)] = []
    private var objectNameStatements: [(tree: Range<Int>, statement: Int)] = []
    private var constantLocations: [Int] = []
    private var regclassLiterals: [RegclassLiteral] = []
    private var unmapped: [Candidate] = []

    private init(tree: UnsafeBufferPointer<UInt8>, text: UnsafeRawBufferPointer, names: MappedNameTable) {
        self.tree = tree
        self.text = text
        self.names = names
        stack.reserveCapacity(64)
    }

    /// Walks `tree` (the JSON of `text`'s parse) and returns the qualifications that RangeVar nodes call for, in
    /// tree order, plus the DROP / COMMENT ON statements to be handled by token position, the locations of the
    /// tree's `A_Const` nodes (the literal constants whose values the grammar only copied; see `RewriteTemplate`),
    /// and the unqualified table names left alone because they are not mapped (one per reference, system catalogs
    /// `pg_*` and CTE references left out).
    /// `nil` if the JSON is not what libpg_query writes (never expected).
    static func collect(
        tree: UnsafeBufferPointer<UInt8>,
        text: UnsafeRawBufferPointer,
        names: MappedNameTable
    ) -> (
        qualifications: [Qualification], objectNameStatements: [ObjectNameStatement], constantLocations: [Int],
        unmappedNames: [[UInt8]]
    )? {
        var collector = TableReferenceCollector(tree: tree, text: text, names: names)
        guard collector.walk() else {
            return nil
        }
        var qualifications: [Qualification] = []
        for candidate in collector.candidates where !(candidate.isFromItem && collector.isShadowed(candidate)) {
            qualifications.append(
                Qualification(offset: candidate.offset, schema: candidate.schema, replacing: candidate.replacing)
            )
        }
        var constantLocations = collector.constantLocations
        if !collector.regclassLiterals.isEmpty {
            // A regclass literal's value decides the rewrite, so it must not count as a constant whose value the
            // grammar only copied: the literal-insensitive cache pins it (see `RewriteTemplate`).
            let pinned = Set(collector.regclassLiterals.map(\.location))
            constantLocations.removeAll { pinned.contains($0) }
            for literal in collector.regclassLiterals {
                let raw = collector.bytes(literal.value)
                let qualification: Qualification?
                if JSONString.needsDecoding(raw) {
                    qualification = JSONString.decode(raw).withUnsafeBytes { value in
                        RegclassLiteralName.qualification(value: value, at: literal.location, text: text, names: names)
                    }
                } else {
                    qualification = RegclassLiteralName.qualification(
                        value: raw, at: literal.location, text: text, names: names
                    )
                }
                if let qualification {
                    qualifications.append(qualification)
                }
            }
        }
        let objectNameStatements = collector.objectNameStatements.map { item in
            let (location, length) = collector.statements[item.statement]
            let start = min(max(location, 0), text.count)
            let end = length > 0 ? min(start + length, text.count) : text.count
            return ObjectNameStatement(tree: item.tree, text: start..<end)
        }
        var unmappedNames: [[UInt8]] = []
        for candidate in collector.unmapped where !(candidate.isFromItem && collector.isShadowed(candidate)) {
            let raw = collector.bytes(candidate.name)
            let name = JSONString.needsDecoding(raw) ? JSONString.decode(raw) : Array(raw)
            // System catalogs (pg_class, ...) resolve through pg_catalog whatever the search_path: not a migration's
            // concern.
            if !name.starts(with: Array("pg_".utf8)) {
                unmappedNames.append(name)
            }
        }
        return (qualifications, objectNameStatements, constantLocations, unmappedNames)
    }

    // MARK: - The pass over the bytes

    private mutating func walk() -> Bool {
        var index = 0
        var expectValue = true
        let count = tree.count
        while index < count {
            if expectValue {
                switch tree[index] {
                case UInt8(ascii: "{"):
                    push(isObject: true, at: index)
                    index += 1
                    if index < count && tree[index] == UInt8(ascii: "}") {
                        index += 1
                        pop(endingAt: index)
                        expectValue = false
                    } else if !readKey(&index) {
                        return false
                    }
                case UInt8(ascii: "["):
                    push(isObject: false, at: index)
                    index += 1
                    if index < count && tree[index] == UInt8(ascii: "]") {
                        index += 1
                        pop(endingAt: index)
                        expectValue = false
                    }
                case UInt8(ascii: "\""):
                    guard let value = readString(&index) else {
                        return false
                    }
                    stringValue(value)
                    expectValue = false
                default:
                    let start = index
                    while index < count, tree[index] != UInt8(ascii: ","), tree[index] != UInt8(ascii: "}"),
                          tree[index] != UInt8(ascii: "]")
                    {
                        index += 1
                    }
                    scalarValue(start..<index)
                    expectValue = false
                }
            } else {
                guard !stack.isEmpty else {
                    return false
                }
                switch tree[index] {
                case UInt8(ascii: ","):
                    index += 1
                    if stack[stack.count - 1].isObject && !readKey(&index) {
                        return false
                    }
                    expectValue = true
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    index += 1
                    pop(endingAt: index)
                    if stack.isEmpty {
                        return true
                    }
                default:
                    return false
                }
            }
        }
        return false
    }

    /// Reads `"key":` and records what the key means in the innermost object.
    private mutating func readKey(_ index: inout Int) -> Bool {
        guard index < tree.count, tree[index] == UInt8(ascii: "\""), let key = readString(&index),
              index < tree.count, tree[index] == UInt8(ascii: ":")
        else {
            return false
        }
        index += 1
        let top = stack.count - 1
        let raw = bytes(key)
        if let first = raw.first, first >= UInt8(ascii: "A"), first <= UInt8(ascii: "Z") {
            stack[top].field = .nodeName
            stack[top].keyNode = Self.node(named: raw)
        } else {
            stack[top].field = Self.field(named: raw)
            stack[top].keyNode = .none
        }
        return true
    }

    /// Reads a JSON string at `index` (which holds the opening quote) and returns the range of its raw contents.
    private func readString(_ index: inout Int) -> Range<Int>? {
        let start = index + 1
        var position = start
        while position < tree.count {
            let byte = tree[position]
            if byte == UInt8(ascii: "\"") {
                index = position + 1
                return start..<position
            }
            position += byte == UInt8(ascii: "\\") ? 2 : 1
        }
        return nil
    }

    private mutating func push(isObject: Bool, at offset: Int) {
        var entry: Entry
        if let parent = stack.last {
            let parentIsNodeBody = parent.isObject && parent.node != .none
            entry = Entry(
                isObject: isObject,
                node: .none,
                contextNode: parentIsNodeBody ? parent.node : parent.contextNode,
                contextIndex: parentIsNodeBody ? Int32(stack.count - 1) : parent.contextIndex,
                contextField: parentIsNodeBody ? parent.field : parent.contextField,
                frame: parent.frame,
                via: parent.via,
                suppressed: parent.suppressed,
                start: Int32(offset)
            )
            if isObject && parent.isObject {
                if parent.field == .nodeName {
                    entry.node = parent.keyNode
                } else if parent.node == .selectStmt && (parent.field == .larg || parent.field == .rarg) {
                    // The operands of UNION/INTERSECT/EXCEPT are written without a {"SelectStmt": ...} wrapper.
                    entry.node = .selectStmt
                }
            }
            if !parent.isObject
                && ((parent.contextNode == .funcCall && parent.contextField == .args)
                    || (parent.contextNode == .columnRef && parent.contextField == .fields))
            {
                // An element of a FuncCall's argument list or of a ColumnRef's fields.
                stack[Int(parent.contextIndex)].argCount += 1
            }
        } else {
            entry = Entry(
                isObject: isObject, node: .none, contextNode: .none, contextIndex: -1, contextField: .other,
                frame: -1, via: -1, suppressed: false, start: Int32(offset)
            )
        }
        switch entry.node {
        case .selectStmt, .insertStmt, .updateStmt, .deleteStmt, .mergeStmt:
            frames.append(Frame(parent: entry.frame, via: entry.via))
            entry.frame = Int32(frames.count - 1)
            entry.via = -1
        case .commonTableExpr:
            // CTE bodies sit in the WITH of the statement whose frame is current.
            if entry.frame >= 0 {
                entry.via = frames[Int(entry.frame)].cteCount
                frames[Int(entry.frame)].cteCount += 1
            }
        case .createSchemaStmt:
            entry.suppressed = true
        case .alterTableStmt, .renameStmt:
            entry.mark = Int32(candidates.count)
        default:
            break
        }
        if isObject && stack.count == 2 {
            // An element of the top-level "stmts" array: {"stmt": ..., "stmt_location": n, "stmt_len": n}.
            statements.append((0, 0))
        }
        stack.append(entry)
    }

    private mutating func pop(endingAt end: Int) {
        let entry = stack.removeLast()
        guard entry.isObject else {
            return
        }
        if entry.relnameStart >= 0 {
            rangeVarEnded(entry)
        }
        switch entry.node {
        case .alterTableStmt, .renameStmt:
            if entry.isTypeTarget {
                candidates.removeSubrange(Int(entry.mark)...)
            }
        case .dropStmt, .commentStmt:
            // Only whole top-level statements: root, "stmts", element, {"DropStmt": ...}, body.
            if stack.count == 4 && !statements.isEmpty {
                objectNameStatements.append((Int(entry.start)..<end, statements.count - 1))
            }
        case .aConst:
            aConstEnded(entry)
        case .funcCall, .typeCast:
            let namesRegclass = entry.node == .funcCall ? isRegclassFunction(entry) : isRegclassType(entry)
            if entry.literalLocation >= 0 && namesRegclass {
                regclassLiterals.append(
                    RegclassLiteral(location: Int(entry.literalLocation), value: range(entry.literalValue))
                )
            }
        case .columnRef:
            legacyColumnRefEnded(entry)
        default:
            break
        }
    }

    private mutating func stringValue(_ value: Range<Int>) {
        let top = stack.count - 1
        guard top >= 0 else {
            return
        }
        switch stack[top].field {
        case .relname:
            stack[top].relnameStart = Int32(value.lowerBound)
            stack[top].relnameLength = Int32(value.count)
        case .schemaname:
            stack[top].qualified = true
            stack[top].schemanameStart = Int32(value.lowerBound)
            stack[top].schemanameLength = Int32(value.count)
        case .catalogname:
            stack[top].qualified = true
            stack[top].hasCatalog = true
        case .sval:
            let entry = stack[top]
            guard entry.contextIndex >= 0 else {
                break
            }
            let owner = Int(entry.contextIndex)
            let part = Int32(value.lowerBound)..<Int32(value.upperBound)
            if entry.node == .none && entry.contextNode == .aConst && entry.contextField == .sval {
                stack[owner].svalStart = part.lowerBound
                stack[owner].svalLength = Int32(value.count)
            } else if entry.node == .string
                && ((entry.contextNode == .funcCall && entry.contextField == .funcname)
                    || (entry.contextNode == .typeCast && entry.contextField == .typeName)
                    || (entry.contextNode == .columnRef && entry.contextField == .fields))
            {
                stack[owner].nameParts += 1
                if stack[owner].nameParts == 1 {
                    stack[owner].firstName = part
                } else if stack[owner].nameParts == 2 {
                    stack[owner].secondName = part
                }
                stack[owner].lastName = part
            }
        case .relpersistence:
            stack[top].temporary = value.count == 1 && tree[value.lowerBound] == UInt8(ascii: "t")
        case .ctename:
            let entry = stack[top]
            if entry.node == .commonTableExpr && entry.frame >= 0 {
                commonTables.append(CommonTable(frame: entry.frame, index: entry.via, name: value))
            }
        case .objtype, .relationType:
            let node = stack[top].node
            if (node == .alterTableStmt || node == .renameStmt) && Self.equals(bytes(value), "OBJECT_TYPE") {
                stack[top].isTypeTarget = true
            }
        default:
            break
        }
    }

    private mutating func scalarValue(_ value: Range<Int>) {
        let top = stack.count - 1
        guard top >= 0 else {
            return
        }
        switch stack[top].field {
        case .location:
            stack[top].location = Int32(clamping: parseInteger(value))
            if stack[top].node == .aConst {
                constantLocations.append(parseInteger(value))
            }
        case .recursive:
            let entry = stack[top]
            if entry.node == .none && entry.contextField == .withClause && entry.frame >= 0
                && Self.equals(bytes(value), "true")
            {
                frames[Int(entry.frame)].recursive = true
            }
        case .stmtLocation where top == 2:
            statements[statements.count - 1].location = parseInteger(value)
        case .stmtLen where top == 2:
            statements[statements.count - 1].length = parseInteger(value)
        default:
            break
        }
    }

    private mutating func rangeVarEnded(_ entry: Entry) {
        if entry.qualified {
            legacyRangeVarEnded(entry)
            return
        }
        guard !entry.suppressed, !entry.temporary, entry.location >= 0 else {
            return
        }
        let position = Self.position(node: entry.contextNode, field: entry.contextField)
        guard position != .never else {
            return
        }
        let name = Int(entry.relnameStart)..<Int(entry.relnameStart + entry.relnameLength)
        let raw = bytes(name)
        let mapped: Int?
        if JSONString.needsDecoding(raw) {
            mapped = JSONString.decode(raw).withUnsafeBytes { names.schemaIndex(forName: $0) }
        } else {
            mapped = names.schemaIndex(forName: raw)
        }
        guard let mapped else {
            // Left alone because the mapping does not name it: for the unmapped-name report. A CTE reference is
            // not a table, so these are filtered by scope like the candidates.
            unmapped.append(
                Candidate(
                    offset: Int(entry.location), schema: -1, frame: entry.frame, isFromItem: position == .fromItem,
                    name: name
                )
            )
            return
        }
        let written = JSONString.needsDecoding(raw)
            ? JSONString.decode(raw).withUnsafeBytes { isWritten($0, at: Int(entry.location)) }
            : isWritten(raw, at: Int(entry.location))
        guard written else {
            return
        }
        let schema = mapped
        candidates.append(
            Candidate(
                offset: Int(entry.location), schema: schema, frame: entry.frame,
                isFromItem: position == .fromItem, name: name
            )
        )
    }

    /// A `schema.table` reference whose schema is one of the legacy schemas and whose table is mapped: its schema
    /// token is replaced. The location of a qualified RangeVar points at its schema.
    private mutating func legacyRangeVarEnded(_ entry: Entry) {
        guard !names.legacySchemas.isEmpty, !entry.hasCatalog, entry.schemanameStart >= 0, !entry.suppressed,
              !entry.temporary, entry.location >= 0
        else {
            return
        }
        guard Self.position(node: entry.contextNode, field: entry.contextField) != .never else {
            return
        }
        let schemaRaw = bytes(Int(entry.schemanameStart)..<Int(entry.schemanameStart + entry.schemanameLength))
        let schemaName = JSONString.needsDecoding(schemaRaw) ? JSONString.decode(schemaRaw) : Array(schemaRaw)
        let tokenLength = schemaName.withUnsafeBytes { schemaName -> Int? in
            guard names.isLegacySchema(schemaName) else {
                return nil
            }
            return Self.identifierTokenLength(schemaName, in: text, at: Int(entry.location))
        }
        guard let tokenLength else {
            return
        }
        let nameRange = Int(entry.relnameStart)..<Int(entry.relnameStart + entry.relnameLength)
        let raw = bytes(nameRange)
        let schema = JSONString.needsDecoding(raw)
            ? JSONString.decode(raw).withUnsafeBytes { names.schemaIndex(forName: $0) }
            : names.schemaIndex(forName: raw)
        guard let schema else {
            return
        }
        candidates.append(
            Candidate(
                offset: Int(entry.location), schema: schema, frame: entry.frame, isFromItem: false, name: nameRange,
                replacing: tokenLength
            )
        )
    }

    /// `public.users.id` or `public.users.*`: a column reference qualified with a legacy schema and a mapped table
    /// follows the table, so it still names the FROM item once that is routed. Only the schema token changes.
    private mutating func legacyColumnRefEnded(_ entry: Entry) {
        guard !names.legacySchemas.isEmpty, entry.argCount == 3, entry.nameParts >= 2, entry.location >= 0,
              !entry.suppressed
        else {
            return
        }
        let schemaRaw = bytes(range(entry.firstName))
        let schemaName = JSONString.needsDecoding(schemaRaw) ? JSONString.decode(schemaRaw) : Array(schemaRaw)
        let tokenLength = schemaName.withUnsafeBytes { schemaName -> Int? in
            guard names.isLegacySchema(schemaName) else {
                return nil
            }
            return Self.identifierTokenLength(schemaName, in: text, at: Int(entry.location))
        }
        let tableRaw = bytes(range(entry.secondName))
        let schema = JSONString.needsDecoding(tableRaw)
            ? JSONString.decode(tableRaw).withUnsafeBytes { names.schemaIndex(forName: $0) }
            : names.schemaIndex(forName: tableRaw)
        guard let tokenLength, let schema else {
            return
        }
        candidates.append(
            Candidate(
                offset: Int(entry.location), schema: schema, frame: entry.frame, isFromItem: false,
                name: range(entry.secondName), replacing: tokenLength
            )
        )
    }

    /// The length of the identifier token at `offset` of `text` when it spells `name` (folded, as the parser reports
    /// it): a quoted identifier (`"public"`, `""` for `"`) or a plain one in any ASCII case. `nil` otherwise,
    /// including Unicode-escaped identifiers (`U&"..."`), which are left alone.
    static func identifierTokenLength(
        _ name: UnsafeRawBufferPointer, in text: UnsafeRawBufferPointer, at offset: Int
    ) -> Int? {
        guard offset < text.count else {
            return nil
        }
        if text[offset] == UInt8(ascii: "\"") {
            var index = offset + 1
            var matched = 0
            while index < text.count {
                var byte = text[index]
                if byte == UInt8(ascii: "\"") {
                    if index + 1 < text.count && text[index + 1] == UInt8(ascii: "\"") {
                        index += 1
                        byte = UInt8(ascii: "\"")
                    } else {
                        return matched == name.count ? index + 1 - offset : nil
                    }
                }
                guard matched < name.count, name[matched] == byte else {
                    return nil
                }
                matched += 1
                index += 1
            }
            return nil
        }
        if text[offset] | 0x20 == UInt8(ascii: "u") && offset + 1 < text.count
            && text[offset + 1] == UInt8(ascii: "&")
        {
            return nil
        }
        var end = offset
        while end < text.count && CharacterClass.isIdentifierPart(text[end]) {
            end += 1
        }
        guard end - offset == name.count else {
            return nil
        }
        for index in 0..<name.count where CharacterClass.asciiLowercased(text[offset + index]) != name[index] {
            return nil
        }
        return name.count
    }

    // MARK: - Regclass literals

    private mutating func aConstEnded(_ entry: Entry) {
        guard entry.svalStart >= 0, entry.location >= 0, entry.contextIndex >= 0 else {
            return
        }
        let owner = Int(entry.contextIndex)
        let isFirstArgument = entry.contextNode == .funcCall && entry.contextField == .args
            && stack[owner].argCount == 1
        let isCastOperand = entry.contextNode == .typeCast && entry.contextField == .arg
        if isFirstArgument || isCastOperand {
            stack[owner].literalLocation = entry.location
            stack[owner].literalValue = entry.svalStart..<(entry.svalStart + entry.svalLength)
        }
    }

    /// `nextval`, `currval`, `setval`, `to_regclass`, `pg_get_serial_sequence`, bare or as `pg_catalog.`.
    private func isRegclassFunction(_ entry: Entry) -> Bool {
        guard entry.nameParts == 1 || (entry.nameParts == 2 && Self.equals(bytes(range(entry.firstName)), "pg_catalog"))
        else {
            return false
        }
        let name = bytes(range(entry.lastName))
        return Self.equals(name, "nextval") || Self.equals(name, "currval") || Self.equals(name, "setval")
            || Self.equals(name, "to_regclass") || Self.equals(name, "pg_get_serial_sequence")
    }

    /// A cast to `regclass` or `pg_catalog.regclass` (`'users'::regclass`, `CAST('users' AS regclass)`).
    private func isRegclassType(_ entry: Entry) -> Bool {
        guard entry.nameParts == 1 || (entry.nameParts == 2 && Self.equals(bytes(range(entry.firstName)), "pg_catalog"))
        else {
            return false
        }
        return Self.equals(bytes(range(entry.lastName)), "regclass")
    }

    private func range(_ range: Range<Int32>) -> Range<Int> {
        Int(range.lowerBound)..<Int(range.upperBound)
    }

    /// Whether the text at `offset` starts the table name `name`: a quoted identifier, a Unicode-escaped one, or the
    /// name itself in any ASCII case. A guard against a location that does not point where it should: such a name
    /// is left alone rather than spliced at a wrong place.
    private func isWritten(_ name: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        guard offset < text.count else {
            return false
        }
        let first = text[offset]
        if first == UInt8(ascii: "\"") {
            return true
        }
        if first | 0x20 == UInt8(ascii: "u") && offset + 1 < text.count && text[offset + 1] == UInt8(ascii: "&") {
            return true
        }
        guard offset + name.count <= text.count else {
            return false
        }
        for index in 0..<name.count where CharacterClass.asciiLowercased(text[offset + index]) != name[index] {
            return false
        }
        return true
    }

    // MARK: - CTE scoping

    /// Whether a CTE of the same name is visible where `candidate` stands. A WITH's names are visible in its main
    /// statement (and everything nested in it), in its later CTEs, and — when RECURSIVE — in all of its CTEs.
    private func isShadowed(_ candidate: Candidate) -> Bool {
        let name = bytes(candidate.name)
        var frameIndex = candidate.frame
        var via: Int32 = -1
        while frameIndex >= 0 {
            let frame = frames[Int(frameIndex)]
            if frame.cteCount > 0 {
                for table in commonTables where table.frame == frameIndex {
                    guard via < 0 || frame.recursive || table.index < via else {
                        continue
                    }
                    let cteName = bytes(table.name)
                    if cteName.count == name.count
                        && (name.isEmpty || memcmp(cteName.baseAddress!, name.baseAddress!, name.count) == 0)
                    {
                        return true
                    }
                }
            }
            via = frame.via
            frameIndex = frame.parent
        }
        return false
    }

    // MARK: - Helpers

    fileprivate func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(tree)[range])
    }

    private func parseInteger(_ range: Range<Int>) -> Int {
        var value = 0
        var negative = false
        for index in range {
            let byte = tree[index]
            if byte == UInt8(ascii: "-") {
                negative = true
            } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                value = value &* 10 &+ Int(byte - UInt8(ascii: "0"))
            }
        }
        return negative ? -value : value
    }

    @inline(__always)
    private static func equals(_ raw: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        raw.count == literal.utf8CodeUnitCount && memcmp(raw.baseAddress!, literal.utf8Start, raw.count) == 0
    }

    private static func position(node: Node, field: Field) -> Position {
        switch (node, field) {
        case (.selectStmt, .fromClause), (.updateStmt, .fromClause), (.deleteStmt, .usingClause),
             (.mergeStmt, .sourceRelation), (.joinExpr, .larg), (.joinExpr, .rarg), (.rangeTableSample, .relation):
            return .fromItem
        case (.lockingClause, .lockedRels), (.compositeTypeStmt, .typevar), (.importForeignSchemaStmt, .tableList),
             (.constraintsSetStmt, .constraints):
            return .never
        default:
            return .relation
        }
    }

    private static func node(named raw: UnsafeRawBufferPointer) -> Node {
        switch raw.count {
        case 6:
            if equals(raw, "String") { return .string }
        case 7:
            if equals(raw, "A_Const") { return .aConst }
        case 8:
            if equals(raw, "JoinExpr") { return .joinExpr }
            if equals(raw, "FuncCall") { return .funcCall }
            if equals(raw, "TypeCast") { return .typeCast }
            if equals(raw, "DropStmt") { return .dropStmt }
        case 9:
            if equals(raw, "MergeStmt") { return .mergeStmt }
            if equals(raw, "ColumnRef") { return .columnRef }
        case 10:
            if equals(raw, "SelectStmt") { return .selectStmt }
            if equals(raw, "InsertStmt") { return .insertStmt }
            if equals(raw, "UpdateStmt") { return .updateStmt }
            if equals(raw, "DeleteStmt") { return .deleteStmt }
            if equals(raw, "RenameStmt") { return .renameStmt }
        case 11:
            if equals(raw, "CommentStmt") { return .commentStmt }
        case 13:
            if equals(raw, "LockingClause") { return .lockingClause }
        case 14:
            if equals(raw, "AlterTableStmt") { return .alterTableStmt }
        case 15:
            if equals(raw, "CommonTableExpr") { return .commonTableExpr }
        case 16:
            if equals(raw, "RangeTableSample") { return .rangeTableSample }
            if equals(raw, "CreateSchemaStmt") { return .createSchemaStmt }
        case 17:
            if equals(raw, "CompositeTypeStmt") { return .compositeTypeStmt }
        case 18:
            if equals(raw, "ConstraintsSetStmt") { return .constraintsSetStmt }
        case 23:
            if equals(raw, "ImportForeignSchemaStmt") { return .importForeignSchemaStmt }
        default:
            break
        }
        return .other
    }

    private static func field(named raw: UnsafeRawBufferPointer) -> Field {
        switch raw.count {
        case 3:
            if equals(raw, "arg") { return .arg }
        case 4:
            if equals(raw, "larg") { return .larg }
            if equals(raw, "rarg") { return .rarg }
            if equals(raw, "args") { return .args }
            if equals(raw, "sval") { return .sval }
        case 6:
            if equals(raw, "fields") { return .fields }
        case 7:
            if equals(raw, "relname") { return .relname }
            if equals(raw, "ctename") { return .ctename }
            if equals(raw, "typevar") { return .typevar }
            if equals(raw, "objtype") { return .objtype }
        case 8:
            if equals(raw, "location") { return .location }
            if equals(raw, "relation") { return .relation }
            if equals(raw, "stmt_len") { return .stmtLen }
            if equals(raw, "funcname") { return .funcname }
            if equals(raw, "typeName") { return .typeName }
        case 9:
            if equals(raw, "recursive") { return .recursive }
        case 10:
            if equals(raw, "fromClause") { return .fromClause }
            if equals(raw, "schemaname") { return .schemaname }
            if equals(raw, "withClause") { return .withClause }
            if equals(raw, "lockedRels") { return .lockedRels }
            if equals(raw, "table_list") { return .tableList }
        case 11:
            if equals(raw, "catalogname") { return .catalogname }
            if equals(raw, "usingClause") { return .usingClause }
            if equals(raw, "constraints") { return .constraints }
        case 12:
            if equals(raw, "relationType") { return .relationType }
        case 13:
            if equals(raw, "stmt_location") { return .stmtLocation }
        case 14:
            if equals(raw, "relpersistence") { return .relpersistence }
            if equals(raw, "sourceRelation") { return .sourceRelation }
        default:
            break
        }
        return .other
    }
}
