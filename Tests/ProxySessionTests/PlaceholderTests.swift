import Testing
@testable import ProxySession

@Test func targetLinks() {}
