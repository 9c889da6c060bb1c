import Testing
@testable import ProxyAuth

@Test func targetLinks() {}
