import Foundation
import SchemaRouting

/// A `schemas:` block made from the live catalog (`schemaproxy mapping discover`).
///
/// Every routable relation of the chosen schemas is listed under its schema. A name present in more than one of them
/// is a conflict: a mapping can route a name to one schema only, and which one is the user's decision, so it is
/// printed as a comment under each schema that has it and never listed. Order is stable: schemas in the order asked
/// for, and in each the relations by name, each table followed by the sequences it owns.
public struct DiscoveredMapping: Sendable, Equatable {
    public struct Conflict: Sendable, Equatable {
        public var name: String
        public var schemas: [String]
    }

    /// Schema -> names routed to it, in output order.
    public var schemas: [(schema: String, names: [String])]
    /// Names found in several schemas, by name.
    public var conflicts: [Conflict]

    public static func == (lhs: DiscoveredMapping, rhs: DiscoveredMapping) -> Bool {
        lhs.conflicts == rhs.conflicts && lhs.schemas.map(\.schema) == rhs.schemas.map(\.schema)
            && lhs.schemas.map(\.names) == rhs.schemas.map(\.names)
    }

    public init(objects: [CatalogObject], schemaOrder: [String]) {
        var schemasByName: [String: Set<String>] = [:]
        for object in objects {
            schemasByName[object.name, default: []].insert(object.schema)
        }
        conflicts = schemasByName.filter { $0.value.count > 1 }.keys.sorted().map { name in
            Conflict(name: name, schemas: schemaOrder.filter { schemasByName[name]!.contains($0) })
        }
        schemas = schemaOrder.map { schema in
            let here = objects.filter { $0.schema == schema }
            var names: [String] = []
            let owned = Dictionary(grouping: here.filter { $0.kind == .sequence && $0.ownedBy != nil }) { $0.ownedBy! }
            let ownedNames = Set(owned.values.joined().map(\.name))
            for object in here.sorted(by: { $0.name < $1.name }) where !ownedNames.contains(object.name) {
                names.append(object.name)
                for sequence in (owned[object.name] ?? []).sorted(by: { $0.name < $1.name }) {
                    names.append(sequence.name)
                }
            }
            // A sequence owned by a table that is not among the objects (not expected) is still listed.
            for sequence in here where ownedNames.contains(sequence.name) && !names.contains(sequence.name) {
                names.append(sequence.name)
            }
            return (schema, names)
        }
    }

    private func isConflict(_ name: String) -> Bool {
        conflicts.contains { $0.name == name }
    }

    /// The block as YAML for the config file. Names are written as the config expects them (quoted in SQL when
    /// PostgreSQL needs it, and then quoted for YAML as well).
    public func yaml() -> String {
        var lines = ["schemas:"]
        for (schema, names) in schemas {
            let routed = names.filter { !isConflict($0) }
            let conflicting = names.filter(isConflict)
            let empty = routed.isEmpty && conflicting.isEmpty
            lines.append("  \(Self.yamlScalar(Self.configName(schema))):" + (empty ? " []" : ""))
            for name in routed {
                lines.append("    - \(Self.yamlScalar(Self.configName(name)))")
            }
            for name in conflicting {
                let others = conflicts.first { $0.name == name }!.schemas.filter { $0 != schema }
                lines.append(
                    "    # - \(Self.yamlScalar(Self.configName(name)))"
                        + "    # CONFLICT: also in \(others.joined(separator: ", ")); route it to one schema only"
                )
            }
        }
        if !conflicts.isEmpty {
            lines.append("# \(conflicts.count) name(s) exist in several schemas and are left out above (commented):")
            for conflict in conflicts {
                lines.append("#   \(conflict.name): \(conflict.schemas.joined(separator: ", "))")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The block as JSON: `{"schemas": {schema: [names]}, "schema_order": [...], "conflicts": [{name, schemas}]}`.
    public func json() -> String {
        var schemaObject: [String: [String]] = [:]
        for (schema, names) in schemas {
            schemaObject[Self.configName(schema)] = names.filter { !isConflict($0) }.map(Self.configName)
        }
        let object: [String: Any] = [
            "schemas": schemaObject,
            "schema_order": schemas.map { Self.configName($0.schema) },
            "conflicts": conflicts.map { conflict in
                ["name": Self.configName(conflict.name), "schemas": conflict.schemas.map(Self.configName)]
            },
        ]
        let options: JSONSerialization.WritingOptions = [.prettyPrinted, .sortedKeys]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: options)) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// An exact catalog name as the config file writes it: bare when PostgreSQL reads it back unquoted as itself.
    static func configName(_ name: String) -> String {
        SchemaRouting.SQLIdentifier.quotedIfNeeded(name)
    }

    /// `text` as a YAML scalar: plain when that reads back as the same string, else single-quoted.
    static func yamlScalar(_ text: String) -> String {
        let plain = text.first.map { $0 == "_" || ($0.isASCII && $0.isLowercase) } == true
            && text.allSatisfy { $0 == "_" || $0 == "$" || ($0.isASCII && ($0.isLowercase || $0.isNumber)) }
        let reserved = ["null", "true", "false", "yes", "no", "on", "off", "y", "n"]
        if plain && !reserved.contains(text) {
            return text
        }
        return "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }
}
