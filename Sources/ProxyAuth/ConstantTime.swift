/// Comparison whose running time depends only on the lengths, not on where the bytes differ.
///
/// Used for every proof, signature and hash comparison so that a client cannot learn a stored key byte by byte
/// from response timing.
enum ConstantTime {
    static func equals<A: Collection, B: Collection>(_ lhs: A, _ rhs: B) -> Bool
    where A.Element == UInt8, B.Element == UInt8 {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for (left, right) in zip(lhs, rhs) {
            difference |= left ^ right
        }
        return difference == 0
    }
}
