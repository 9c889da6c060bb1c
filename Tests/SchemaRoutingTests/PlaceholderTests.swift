import Testing
@testable import SchemaRouting

@Test func targetLinks() {}
