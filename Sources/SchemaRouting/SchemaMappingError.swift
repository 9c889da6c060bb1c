/// Why a `schemas:` mapping from the config file was rejected, with a message a user can act on.
public struct SchemaMappingError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What kind of mistake the mapping holds.
    public enum Kind: Sendable, Equatable {
        /// One table name (after identifier folding) is listed under two schemas.
        case duplicateTable
        /// A schema or table name is not a valid PostgreSQL identifier as written.
        case invalidName
    }

    public var kind: Kind
    public var description: String

    public init(kind: Kind, description: String) {
        self.kind = kind
        self.description = description
    }
}
