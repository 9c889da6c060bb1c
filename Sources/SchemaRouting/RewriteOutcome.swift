/// What the rewriter did with one statement text.
public enum RewriteOutcome: Sendable, Equatable {
    /// Nothing to qualify (including texts the prefilter ruled out): forward the original bytes.
    case unchanged
    /// The new statement text, UTF-8, without a NUL terminator.
    case rewritten([UInt8])
    /// libpg_query rejected the text: forward it unchanged so the server reports the error as it would.
    case parseError
}
