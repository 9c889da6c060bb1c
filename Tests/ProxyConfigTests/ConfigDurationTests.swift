import Testing
@testable import ProxyConfig

@Suite struct ConfigDurationTests {
    @Test(arguments: [
        ("0", Duration.zero), ("0s", .zero), ("0ms", .zero), ("500ms", .milliseconds(500)), ("5s", .seconds(5)),
        ("10m", .seconds(600)), ("1h", .seconds(3600)), ("1m30s", .seconds(90)),
        ("1h2m3s4ms", .milliseconds(3_723_004)), ("90s", .seconds(90)),
    ])
    func parses(_ text: String, _ expected: Duration) {
        #expect(ConfigDuration.parse(text) == expected)
    }

    @Test(arguments: ["", "5", "s", "5 s", "-5s", "5sec", "1.5s", "5S", "1d", "m5", "99999999999999999999s", "0x"])
    func rejects(_ text: String) {
        #expect(ConfigDuration.parse(text) == nil)
    }

    @Test func formatsBack() {
        #expect(ConfigDuration.format(.zero) == "0s")
        #expect(ConfigDuration.format(.milliseconds(100)) == "100ms")
        #expect(ConfigDuration.format(.seconds(90)) == "1m30s")
        #expect(ConfigDuration.format(.seconds(3600)) == "1h")
        #expect(ConfigDuration.format(.milliseconds(1500)) == "1s500ms")
        for text in ["5s", "10m", "1h2m3s4ms"] {
            #expect(ConfigDuration.format(ConfigDuration.parse(text)!) == text)
        }
    }

    @Test func retryBackoffDoublesUpToTheCap() {
        let retry = RetrySettings(attempts: 6, initialBackoff: .milliseconds(100), maxBackoff: .milliseconds(350))
        #expect((1...6).map { retry.backoff(beforeAttempt: $0) } == [
            .zero, .milliseconds(100), .milliseconds(200), .milliseconds(350), .milliseconds(350), .milliseconds(350),
        ])
    }
}

@Suite struct EnvironmentSubstitutionTests {
    let environment = ["A": "alpha", "EMPTY": "", "B_2": "b"]

    @Test(arguments: [
        ("plain", "plain"), ("${A}", "alpha"), ("x${A}y${B_2}z", "xalphaybz"), ("$${A}", "${A}"),
        ("cost $5 and $$", "cost $5 and $$"), ("${MISSING:-fallback}", "fallback"), ("${EMPTY:-fallback}", "fallback"),
        ("${A:-fallback}", "alpha"), ("${EMPTY}", ""), ("${MISSING:-}", ""),
        ("SCRAM-SHA-256$4096:a$b:c", "SCRAM-SHA-256$4096:a$b:c"),
    ])
    func substitutes(_ text: String, _ expected: String) throws {
        #expect(try EnvironmentSubstitution.substitute(text, environment: environment) == expected)
    }

    @Test(arguments: ["${MISSING}", "${", "${A", "${}", "${1A}", "${A-B}", "${A B}"])
    func rejects(_ text: String) {
        #expect(throws: FieldError.self) { try EnvironmentSubstitution.substitute(text, environment: environment) }
    }

    @Test func unsetVariableIsNamed() {
        let error = #expect(throws: FieldError.self) {
            try EnvironmentSubstitution.substitute("x${DB_PASSWORD}", environment: [:])
        }
        #expect(error?.message == "environment variable DB_PASSWORD is not set")
    }
}

@Suite struct SQLIdentifierTests {
    @Test(arguments: [
        ("users", "users"), ("Users", "users"), ("USERS", "users"), ("\"Users\"", "Users"), ("\"a\"\"b\"", "a\"b"),
        ("_x1$", "_x1$"), ("Ünïcode", "Ünïcode"), ("\"with space\"", "with space"),
    ])
    func normalizes(_ written: String, _ expected: String) {
        #expect(SQLIdentifier.normalize(written) == expected)
    }

    @Test(arguments: ["", "1abc", "a.b", "a b", "\"\"", "\"open", "\"a\"b\"", "a-b"])
    func rejects(_ written: String) {
        #expect(SQLIdentifier.normalize(written) == nil)
    }
}
