import Testing
@testable import PostgresWire

@Test func targetLinks() {}
