/// The rewrite of one statement, stated so that it applies to every statement of the same `StatementShape`: the
/// same text with other literal values, as psycopg2-style clients and `pgbench -M simple` send it.
///
/// An edit is kept as (gap, offset in the gap), where gap `k` is the text between literal `k - 1` and literal `k`.
/// Statements of one shape have equal gaps, so the edit lands at the same token of the other statement however long
/// its literals are.
///
/// Why a statement of the same shape gets exactly the rewrite a fresh parse would give: PostgreSQL's lexer splits it
/// into the same tokens (`LiteralScanner` mirrors the lexer's boundaries), with literals of the same kinds in the same
/// places, so the grammar takes the same path. What remains are the grammar actions that look at a literal's value.
/// A literal that reached the tree as an `A_Const` node (possibly folded with the signs before it, `-5`) had its value
/// copied and nothing else; any other literal (`float(60)`, which the grammar rejects, a function body, a COMMENT
/// text) is *pinned*: a statement only matches the template when that literal is byte for byte the same. Texts the
/// parser rejected never become templates.
final class RewriteTemplate: Sendable {
    struct Edit: Sendable {
        var gap: Int32
        var offset: Int32
        var schema: Int32
        var replacing: Int32
    }

    struct PinnedLiteral: Sendable {
        var index: Int
        var bytes: [UInt8]
    }

    /// Ordered by position; empty when the statement is unchanged.
    let edits: [Edit]
    let pinned: [PinnedLiteral]
    /// The statement's unmapped table references (the same for every statement of the shape: table names are never
    /// literals), counted on each use.
    let unmapped: UnmappedSlots

    /// The template of the rewrite of `text` (of shape `shape`) into `qualifications` (ordered), given the
    /// locations of its parse tree's `A_Const` nodes (ascending). An edit may fall inside a pinned literal (a
    /// `regclass` string, which is never an `A_Const` the grammar only copied): every statement that uses the template
    /// has that literal byte for byte, so the edit's offset from the start of the literal's gap holds. `nil` when an
    /// edit falls inside any other literal (not expected).
    init?(
        shape: StatementShape,
        text: UnsafeRawBufferPointer,
        qualifications: [Qualification],
        constantLocations: [Int],
        unmapped: UnmappedSlots = UnmappedSlots()
    ) {
        self.unmapped = unmapped
        var pinned: [PinnedLiteral] = []
        var constant = 0
        for (index, literal) in shape.literals.enumerated() {
            while constant < constantLocations.count && constantLocations[constant] < literal.signStart {
                constant += 1
            }
            let isConstant = constant < constantLocations.count && constantLocations[constant] <= literal.start
            if !isConstant {
                pinned.append(PinnedLiteral(index: index, bytes: Array(text[literal.start..<literal.end])))
            }
        }
        var edits: [Edit] = []
        edits.reserveCapacity(qualifications.count)
        var gap = 0
        var pinnedIndex = 0
        for qualification in qualifications {
            while gap < shape.literals.count && shape.literals[gap].end <= qualification.offset {
                gap += 1
            }
            if gap < shape.literals.count && qualification.offset > shape.literals[gap].start {
                while pinnedIndex < pinned.count && pinned[pinnedIndex].index < gap {
                    pinnedIndex += 1
                }
                guard pinnedIndex < pinned.count, pinned[pinnedIndex].index == gap,
                      qualification.offset + qualification.replacing < shape.literals[gap].end
                else {
                    return nil
                }
            }
            edits.append(
                Edit(
                    gap: Int32(gap),
                    offset: Int32(qualification.offset - shape.gapStart(gap)),
                    schema: Int32(qualification.schema),
                    replacing: Int32(qualification.replacing)
                )
            )
        }
        self.edits = edits
        self.pinned = pinned
    }

    /// Bytes held beyond the key, for the cache's budget.
    var byteCount: Int {
        edits.count * MemoryLayout<Edit>.stride + pinned.reduce(0) { $0 + $1.bytes.count + 16 } + 64
    }

    /// The rewrite of `text`, whose shape is `shape` (the key this template is stored under), or `nil` when a pinned
    /// literal differs.
    func outcome(for text: UnsafeRawBufferPointer, shape: StatementShape, names: MappedNameTable) -> RewriteOutcome? {
        for literal in pinned {
            let span = shape.literals[literal.index]
            guard span.end - span.start == literal.bytes.count,
                  literal.bytes.withUnsafeBytes({ $0.elementsEqual(text[span.start..<span.end]) })
            else {
                return nil
            }
        }
        guard !edits.isEmpty else {
            return .unchanged
        }
        let qualifications = edits.lazy.map { edit in
            Qualification(
                offset: shape.gapStart(Int(edit.gap)) + Int(edit.offset), schema: Int(edit.schema),
                replacing: Int(edit.replacing)
            )
        }
        return .rewritten(StatementRewriter.splice(text, qualifications, names: names))
    }
}
