import Testing
@testable import ConnectionPool

@Test func targetLinks() {}
