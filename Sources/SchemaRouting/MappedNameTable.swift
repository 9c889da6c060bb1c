#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The mapping in the form the hot path wants: table names as bytes in an open-addressing hash table, so a name
/// read from the parse tree is looked up without building a `String`, and the bytes to insert for each schema.
struct MappedNameTable: Sendable {
    /// The text inserted in front of a table name: the schema (quoted if it needs quoting) and a period.
    struct SchemaPrefix: Sendable {
        var name: String
        /// `schema.` or `"Schema".` — as PostgreSQL needs it.
        var prefix: [UInt8]
        /// Always `"schema".`: used when the byte before the table name is an identifier character
        /// (`FROM"users"`), where a bare schema would merge with the preceding word.
        var quotedPrefix: [UInt8]
    }

    private struct Slot: Sendable {
        var hash: UInt64
        var start: Int32
        var length: Int32
        var schema: Int32
    }

    let schemas: [SchemaPrefix]
    /// The folded `legacy_schemas`: a table name qualified with one of them is routed like an unqualified one.
    let legacySchemas: [[UInt8]]
    /// The folded table names, for the prefilter.
    let tableNames: [[UInt8]]
    private let pool: [UInt8]
    private let slots: [Slot?]
    private let mask: Int

    init(_ mapping: SchemaMapping) {
        let schemaNames = Set(mapping.schemaByTable.values).sorted()
        schemas = schemaNames.map { name in
            SchemaPrefix(
                name: name,
                prefix: Array((SQLIdentifier.quotedIfNeeded(name) + ".").utf8),
                quotedPrefix: Array((SQLIdentifier.quoted(name) + ".").utf8)
            )
        }
        let schemaIndex = Dictionary(uniqueKeysWithValues: schemaNames.enumerated().map { ($1, $0) })
        let entries = mapping.schemaByTable.sorted { $0.key < $1.key }
        tableNames = entries.map { Array($0.key.utf8) }
        legacySchemas = mapping.legacySchemas.map { Array($0.utf8) }

        var capacity = 8
        while capacity < entries.count * 2 {
            capacity *= 2
        }
        var pool: [UInt8] = []
        var slots = [Slot?](repeating: nil, count: capacity)
        for (table, schema) in entries {
            let bytes = Array(table.utf8)
            let hash = bytes.withUnsafeBytes(Self.hash)
            var index = Int(truncatingIfNeeded: hash) & (capacity - 1)
            while slots[index] != nil {
                index = (index + 1) & (capacity - 1)
            }
            slots[index] = Slot(
                hash: hash, start: Int32(pool.count), length: Int32(bytes.count), schema: Int32(schemaIndex[schema]!)
            )
            pool.append(contentsOf: bytes)
        }
        self.pool = pool
        self.slots = slots
        self.mask = capacity - 1
    }

    var isEmpty: Bool { tableNames.isEmpty }

    /// Whether `name` (folded, as the parser reports it) is one of the legacy schemas.
    func isLegacySchema(_ name: UnsafeRawBufferPointer) -> Bool {
        legacySchemas.contains { $0.count == name.count && $0.withUnsafeBytes { $0.elementsEqual(name) } }
    }

    /// The index into `schemas` for the exact table name `name`, or `nil` when it is not mapped.
    func schemaIndex(forName name: UnsafeRawBufferPointer) -> Int? {
        let hash = Self.hash(name)
        var index = Int(truncatingIfNeeded: hash) & mask
        return pool.withUnsafeBytes { pool in
            while let slot = slots[index] {
                if slot.hash == hash && Int(slot.length) == name.count
                    && (name.isEmpty || memcmp(pool.baseAddress! + Int(slot.start), name.baseAddress!, name.count) == 0)
                {
                    return Int(slot.schema)
                }
                index = (index + 1) & mask
            }
            return nil
        }
    }

    /// FNV-1a: tiny, and good enough for a table of identifiers.
    private static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}
