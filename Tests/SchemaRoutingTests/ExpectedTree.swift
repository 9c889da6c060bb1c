import Foundation
@testable import SchemaRouting

/// What the parse tree of a correctly rewritten statement must look like, derived from the original statement's
/// tree alone — a second, independent statement of the rules, written over the generic JSON tree (recursively, with
/// sets of visible CTE names) rather than over the bytes like the rewriter.
///
/// The rules: every `RangeVar` without a schema whose name is mapped gains `schemaname`, unless it is a FROM item
/// and a CTE of that name is visible there, or it is one of the never-qualified kinds (FOR UPDATE OF, composite type,
/// ALTER TYPE, IMPORT FOREIGN SCHEMA list, SET CONSTRAINTS, temporary relation being created, anything in CREATE
/// SCHEMA). DROP / COMMENT ON of relations, and their ON-table forms, gain the schema as the first name part.
struct ExpectedTree {
    let mapping: SchemaMapping
    /// How many qualifications the transformation made.
    private(set) var qualified = 0

    init(mapping: SchemaMapping) {
        self.mapping = mapping
    }

    /// The tree as it must be after the rewrite, and with locations removed and members sorted (see `normalized`).
    mutating func expected(from tree: JSONValue) -> JSONValue {
        Self.normalized(transform(tree, node: nil, field: nil, visible: [], suppressed: false))
    }

    /// `tree` without `location`, `stmt_location` and `stmt_len` (they move when text is inserted), with object
    /// members sorted by key.
    static func normalized(_ tree: JSONValue) -> JSONValue {
        switch tree {
        case .object(let members):
            return .object(
                members.filter { !["location", "stmt_location", "stmt_len"].contains($0.key) }
                    .map { JSONValue.Member(key: $0.key, value: normalized($0.value)) }
                    .sorted { $0.key < $1.key }
            )
        case .array(let elements):
            return .array(elements.map(normalized))
        default:
            return tree
        }
    }

    private static let fromItems: Set<String> = [
        "SelectStmt.fromClause", "UpdateStmt.fromClause", "DeleteStmt.usingClause", "MergeStmt.sourceRelation",
        "JoinExpr.larg", "JoinExpr.rarg", "RangeTableSample.relation",
    ]
    private static let neverQualified: Set<String> = [
        "LockingClause.lockedRels", "CompositeTypeStmt.typevar", "ImportForeignSchemaStmt.table_list",
        "ConstraintsSetStmt.constraints",
    ]
    private static let statementNodes: Set<String> = [
        "SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt",
    ]

    /// `value` sits under field `field` of the nearest enclosing node `node`; `visible` are the CTE names in scope.
    private mutating func transform(
        _ value: JSONValue,
        node: String?,
        field: String?,
        visible: Set<[UInt8]>,
        suppressed: Bool
    ) -> JSONValue {
        switch value {
        case .array(let elements):
            return .array(elements.map { element in
                transform(element, node: node, field: field, visible: visible, suppressed: suppressed)
            })
        case .object(let members):
            if members.count == 1, let key = members.first?.key, key.first?.isUppercase == true {
                let body = transformNode(
                    type: key, body: members[0].value, node: node, field: field, visible: visible,
                    suppressed: suppressed
                )
                return .object([JSONValue.Member(key: key, value: body)])
            }
            if value["relname"] != nil {
                return rangeVar(value, node: node, field: field, visible: visible, suppressed: suppressed)
            }
            if node == "SelectStmt" && (field == "larg" || field == "rarg") {
                return transformNode(
                    type: "SelectStmt", body: value, node: node, field: field, visible: visible, suppressed: suppressed
                )
            }
            return .object(members.map { member in
                JSONValue.Member(
                    key: member.key,
                    value: transform(member.value, node: node, field: field, visible: visible, suppressed: suppressed)
                )
            })
        default:
            return value
        }
    }

    /// The body of a node of type `type`.
    private mutating func transformNode(
        type: String,
        body: JSONValue,
        node: String?,
        field: String?,
        visible: Set<[UInt8]>,
        suppressed: Bool
    ) -> JSONValue {
        if type == "RangeVar" {
            return rangeVar(body, node: node, field: field, visible: visible, suppressed: suppressed)
        }
        guard case .object(var members) = body else {
            return body
        }
        let suppressed = suppressed || type == "CreateSchemaStmt"
        var visible = visible
        var cteVisibility: [Set<[UInt8]>] = []
        if Self.statementNodes.contains(type), let with = body["withClause"] {
            let ctes = with["ctes"]?.arrayValue ?? []
            let names = ctes.compactMap { $0["CommonTableExpr"]?["ctename"]?.stringBytes }
            let recursive = with["recursive"]?.isTrue == true
            for index in names.indices {
                cteVisibility.append(visible.union(recursive ? names : Array(names[..<index])))
            }
            visible.formUnion(names)
        }
        let isTypeTarget = (type == "AlterTableStmt" && body["objtype"]?.stringValue == "OBJECT_TYPE")
            || (type == "RenameStmt" && body["relationType"]?.stringValue == "OBJECT_TYPE")
        for index in members.indices {
            let key = members[index].key
            if key == "withClause" && !cteVisibility.isEmpty {
                members[index].value = transformWith(members[index].value, type: type, cteVisibility, suppressed)
            } else if key == "relation" && isTypeTarget {
                continue
            } else {
                members[index].value = transform(
                    members[index].value, node: type, field: key, visible: visible, suppressed: suppressed
                )
            }
        }
        var result = JSONValue.object(members)
        if !suppressed && (type == "DropStmt" || type == "CommentStmt") {
            result = qualifyObjectNames(result, type: type)
        }
        if type == "FuncCall" || type == "TypeCast" {
            result = qualifyRegclassLiteral(result, type: type)
        }
        return result
    }

    /// The string constant PostgreSQL reads as a `regclass` — first argument of nextval, currval, setval,
    /// to_regclass and pg_get_serial_sequence, or the operand of a cast to regclass — gains the schema of the plain
    /// (or `"quoted"`) mapped name it holds.
    private mutating func qualifyRegclassLiteral(_ body: JSONValue, type: String) -> JSONValue {
        let nameList = (type == "FuncCall" ? body["funcname"] : body["typeName"]?["names"])?.arrayValue ?? []
        let names = nameList.compactMap { $0["String"]?["sval"]?.stringValue }
        guard let last = names.last, names.count == 1 || (names.count == 2 && names[0] == "pg_catalog") else {
            return body
        }
        let wanted = type == "FuncCall"
            ? ["nextval", "currval", "setval", "to_regclass", "pg_get_serial_sequence"].contains(last)
            : last == "regclass"
        let operandKey = type == "FuncCall" ? "args" : "arg"
        guard wanted, case .object(var members) = body,
              let operandIndex = members.firstIndex(where: { $0.key == operandKey })
        else {
            return body
        }
        let operand = type == "FuncCall" ? members[operandIndex].value.arrayValue?.first : members[operandIndex].value
        guard let constant = operand?["A_Const"], let location = constant["location"],
              let value = constant["sval"]?["sval"]?.stringValue
        else {
            return body
        }
        // The name as regclass reads a single part: trimmed, a quoted name exact, a plain one lower-cased.
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        let name: String
        if trimmed.count >= 2, trimmed.hasPrefix("\""), trimmed.hasSuffix("\""),
           !trimmed.dropFirst().dropLast().contains("\"")
        {
            name = String(trimmed.dropFirst().dropLast())
        } else if !trimmed.isEmpty, !trimmed.contains("."), !trimmed.contains("\""), !trimmed.contains(" ") {
            name = String(trimmed.map { $0.isASCII ? Character($0.lowercased()) : $0 })
        } else {
            return body
        }
        guard let schema = mapping.schema(forTable: name) else {
            return body
        }
        qualified += 1
        let newConstant = JSONValue.object([
            JSONValue.Member(key: "A_Const", value: .object([
                JSONValue.Member(key: "sval", value: .object([
                    JSONValue.Member(
                        key: "sval", value: .string(Array((SQLIdentifier.quotedIfNeeded(schema) + "." + value).utf8))
                    ),
                ])),
                JSONValue.Member(key: "location", value: location),
            ])),
        ])
        if type == "FuncCall", case .array(var arguments) = members[operandIndex].value {
            arguments[0] = newConstant
            members[operandIndex].value = .array(arguments)
        } else {
            members[operandIndex].value = newConstant
        }
        return .object(members)
    }

    /// A WITH clause whose CTE number i sees the names in `cteVisibility[i]`.
    private mutating func transformWith(
        _ with: JSONValue,
        type: String,
        _ cteVisibility: [Set<[UInt8]>],
        _ suppressed: Bool
    ) -> JSONValue {
        guard case .object(var members) = with,
              let ctesIndex = members.firstIndex(where: { $0.key == "ctes" }),
              case .array(let ctes) = members[ctesIndex].value
        else {
            return with
        }
        members[ctesIndex].value = .array(ctes.enumerated().map { index, cte in
            transform(cte, node: type, field: "withClause", visible: cteVisibility[index], suppressed: suppressed)
        })
        return .object(members)
    }

    private mutating func rangeVar(
        _ body: JSONValue,
        node: String?,
        field: String?,
        visible: Set<[UInt8]>,
        suppressed: Bool
    ) -> JSONValue {
        let position = "\(node ?? "").\(field ?? "")"
        guard case .object(var members) = body, !suppressed, body["schemaname"] == nil,
              body["relpersistence"]?.stringValue != "t", !Self.neverQualified.contains(position),
              let name = body["relname"]?.stringBytes,
              let schema = mapping.schema(forTable: String(decoding: name, as: UTF8.self))
        else {
            return body
        }
        if Self.fromItems.contains(position) && visible.contains(name) {
            return body
        }
        qualified += 1
        members.append(JSONValue.Member(key: "schemaname", value: .string(Array(schema.utf8))))
        return .object(members)
    }

    /// DROP / COMMENT ON: the name lists of relations (and of triggers, rules, policies, constraints and columns,
    /// whose lists start with their table) gain the schema in front of an unqualified mapped table.
    private mutating func qualifyObjectNames(_ body: JSONValue, type: String) -> JSONValue {
        let kind = (type == "DropStmt" ? body["removeType"] : body["objtype"])?.stringValue ?? ""
        let relationKinds = [
            "OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_FOREIGN_TABLE", "OBJECT_SEQUENCE", "OBJECT_INDEX",
        ]
        let onTableKinds = ["OBJECT_COLUMN", "OBJECT_TRIGGER", "OBJECT_RULE", "OBJECT_POLICY", "OBJECT_TABCONSTRAINT"]
        let partsWhenUnqualified: Int
        if relationKinds.contains(kind) {
            partsWhenUnqualified = 1
        } else if onTableKinds.contains(kind) {
            partsWhenUnqualified = 2
        } else {
            return body
        }
        func qualify(_ object: JSONValue) -> JSONValue {
            guard let items = object["List"]?["items"]?.arrayValue, items.count == partsWhenUnqualified,
                  let table = items[0]["String"]?["sval"]?.stringBytes,
                  let schema = mapping.schema(forTable: String(decoding: table, as: UTF8.self))
            else {
                return object
            }
            qualified += 1
            let schemaItem = JSONValue.object([
                JSONValue.Member(key: "String", value: .object([
                    JSONValue.Member(key: "sval", value: .string(Array(schema.utf8))),
                ])),
            ])
            return .object([
                JSONValue.Member(key: "List", value: .object([
                    JSONValue.Member(key: "items", value: .array([schemaItem] + items)),
                ])),
            ])
        }
        guard case .object(var members) = body else {
            return body
        }
        for index in members.indices {
            if members[index].key == "objects", let objects = members[index].value.arrayValue {
                members[index].value = .array(objects.map(qualify))
            } else if members[index].key == "object" {
                members[index].value = qualify(members[index].value)
            }
        }
        return .object(members)
    }
}
