/// The names of prepared statements on a server connection shared between clients (transaction pooling).
/// The proxy's own are `__sp_<number>` (and `__sp_0`, never prepared). A client name that reaches the
/// server as it is (a Bind of a statement the client never prepared, the stand-in of a second Parse of a
/// name in use, SQL-level DEALLOCATE) is escaped when it starts with `__sp`, so no client can ever name,
/// use or drop one of the proxy's statements.
public enum ProxyStatementName {
    public static let prefix = "__sp_"

    public static func serverName(_ number: Int) -> String { "__sp_\(number)" }

    /// A statement name no statement ever gets: closing it is a no-op that still answers CloseComplete.
    public static let absentName = "__sp_0"

    /// The name a client's own statement name has on the server: itself, or `__spc` + itself when it starts
    /// with `__sp` (then it starts with `__spc`, which no proxy name does; escaping is injective).
    public static func escapedClientName(_ name: String) -> String {
        name.hasPrefix("__sp") ? "__spc" + name : name
    }

    /// The proxy's statement number a server-side name stands for (`__sp_12` -> 12), if it is one.
    public static func number(of name: String) -> Int? {
        guard name.hasPrefix(Self.prefix), let number = Int(name.dropFirst(Self.prefix.count)), number > 0,
              Self.serverName(number) == name else { return nil }
        return number
    }
}
