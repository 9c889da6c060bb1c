/// One edit of a rewrite: insert the prefix of schema number `schema` (an index into `MappedNameTable.schemas`)
/// at byte `offset` of the statement text, in front of an unqualified table name.
struct Qualification: Hashable, Comparable {
    var offset: Int
    var schema: Int

    static func < (lhs: Qualification, rhs: Qualification) -> Bool {
        (lhs.offset, lhs.schema) < (rhs.offset, rhs.schema)
    }
}
