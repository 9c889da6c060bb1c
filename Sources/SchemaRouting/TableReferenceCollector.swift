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
        case aConst

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
        /// Nearest enclosing node body and the field under it that leads here.
        var contextNode: Node
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
        var temporary = false
        var location: Int32 = -1
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

    private init(tree: UnsafeBufferPointer<UInt8>, text: UnsafeRawBufferPointer, names: MappedNameTable) {
        self.tree = tree
        self.text = text
        self.names = names
        stack.reserveCapacity(64)
    }

    /// Walks `tree` (the JSON of `text`'s parse) and returns the qualifications that RangeVar nodes call for, in
    /// tree order, plus the DROP / COMMENT ON statements to be handled by token position, and the locations of the
    /// tree's `A_Const` nodes (the literal constants whose values the grammar only copied; see `RewriteTemplate`).
    /// `nil` if the JSON is not what libpg_query writes (never expected).
    static func collect(
        tree: UnsafeBufferPointer<UInt8>,
        text: UnsafeRawBufferPointer,
        names: MappedNameTable
    ) -> (
        qualifications: [Qualification], objectNameStatements: [ObjectNameStatement], constantLocations: [Int]
    )? {
        var collector = TableReferenceCollector(tree: tree, text: text, names: names)
        guard collector.walk() else {
            return nil
        }
        var qualifications: [Qualification] = []
        for candidate in collector.candidates where !(candidate.isFromItem && collector.isShadowed(candidate)) {
            qualifications.append(Qualification(offset: candidate.offset, schema: candidate.schema))
        }
        let objectNameStatements = collector.objectNameStatements.map { item in
            let (location, length) = collector.statements[item.statement]
            let start = min(max(location, 0), text.count)
            let end = length > 0 ? min(start + length, text.count) : text.count
            return ObjectNameStatement(tree: item.tree, text: start..<end)
        }
        return (qualifications, objectNameStatements, collector.constantLocations)
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
        } else {
            entry = Entry(
                isObject: isObject, node: .none, contextNode: .none, contextField: .other,
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
        case .schemaname, .catalogname:
            stack[top].qualified = true
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
        guard !entry.qualified, !entry.suppressed, !entry.temporary, entry.location >= 0 else {
            return
        }
        let position = Self.position(node: entry.contextNode, field: entry.contextField)
        guard position != .never else {
            return
        }
        let name = Int(entry.relnameStart)..<Int(entry.relnameStart + entry.relnameLength)
        let raw = bytes(name)
        let schema: Int?
        if JSONString.needsDecoding(raw) {
            schema = JSONString.decode(raw).withUnsafeBytes { decoded in
                names.schemaIndex(forName: decoded).flatMap { isWritten(decoded, at: Int(entry.location)) ? $0 : nil }
            }
        } else {
            schema = names.schemaIndex(forName: raw).flatMap { isWritten(raw, at: Int(entry.location)) ? $0 : nil }
        }
        guard let schema else {
            return
        }
        candidates.append(
            Candidate(
                offset: Int(entry.location), schema: schema, frame: entry.frame,
                isFromItem: position == .fromItem, name: name
            )
        )
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

    private func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer {
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
        case 7:
            if equals(raw, "A_Const") { return .aConst }
        case 8:
            if equals(raw, "JoinExpr") { return .joinExpr }
            if equals(raw, "DropStmt") { return .dropStmt }
        case 9:
            if equals(raw, "MergeStmt") { return .mergeStmt }
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
        case 4:
            if equals(raw, "larg") { return .larg }
            if equals(raw, "rarg") { return .rarg }
        case 7:
            if equals(raw, "relname") { return .relname }
            if equals(raw, "ctename") { return .ctename }
            if equals(raw, "typevar") { return .typevar }
            if equals(raw, "objtype") { return .objtype }
        case 8:
            if equals(raw, "location") { return .location }
            if equals(raw, "relation") { return .relation }
            if equals(raw, "stmt_len") { return .stmtLen }
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
