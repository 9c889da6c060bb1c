import CPgQuery

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The small part of libpg_query the rewriter uses: parsing to a JSON tree and scanning into tokens.
///
/// libpg_query wants NUL-terminated C strings while the proxy hands us the exact statement bytes, so every call
/// copies the text into a temporary buffer first (on the stack for short statements). Every result is freed before
/// the call returns; callers only see the tree or tokens inside a closure or as copied values.
enum PgQuery {
    /// Parses `sql` and calls `body` with the JSON parse tree (without its NUL), or `nil` when the parser rejected
    /// the text. The tree is only valid inside `body`.
    static func withParseTree<R>(
        of sql: UnsafeRawBufferPointer,
        _ body: (UnsafeBufferPointer<UInt8>?) -> R
    ) -> R {
        withCString(sql) { cString in
            let result = pg_query_parse(cString)
            defer { pg_query_free_parse_result(result) }
            guard result.error == nil, let tree = result.parse_tree else {
                return body(nil)
            }
            let bytes = UnsafeRawPointer(tree).assumingMemoryBound(to: UInt8.self)
            return body(UnsafeBufferPointer(start: bytes, count: strlen(tree)))
        }
    }

    /// Runs PostgreSQL's own lexer over `sql`. Returns `nil` when the lexer rejected the text.
    /// Token offsets are byte offsets into `sql`.
    static func scan(_ sql: UnsafeRawBufferPointer) -> [ScanToken]? {
        withCString(sql) { cString in
            let result = pg_query_scan(cString)
            defer { pg_query_free_scan_result(result) }
            guard result.error == nil else {
                return nil
            }
            guard let data = result.pbuf.data else {
                return []
            }
            let buffer = UnsafeRawBufferPointer(start: data, count: result.pbuf.len)
            return ScanToken.decodeScanResult(buffer)
        }
    }

    /// Copies `bytes` into a NUL-terminated temporary buffer for the duration of `body`.
    private static func withCString<R>(
        _ bytes: UnsafeRawBufferPointer,
        _ body: (UnsafePointer<CChar>) -> R
    ) -> R {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: bytes.count + 1) { buffer in
            let base = buffer.baseAddress!
            if let source = bytes.baseAddress, !bytes.isEmpty {
                UnsafeMutableRawPointer(base).copyMemory(from: source, byteCount: bytes.count)
            }
            base[bytes.count] = 0
            return body(UnsafePointer(base))
        }
    }
}
