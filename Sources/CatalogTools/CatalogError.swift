/// A catalog tool could not talk to the backend (connection refused, authentication failed, a query failed).
public struct CatalogError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
