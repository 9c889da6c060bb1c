import Testing
@testable import ProxyConfig

@Test func targetLinks() {}
