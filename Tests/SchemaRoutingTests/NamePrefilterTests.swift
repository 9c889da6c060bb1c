import Testing
@testable import SchemaRouting

@Suite("NamePrefilter")
struct NamePrefilterTests {
    static let longName = String(repeating: "n", count: 63)
    static let prefilter = NamePrefilter(names: [
        "users", "MixedCase", "운세", "my table", "a\"b", "2fa", longName,
    ].map { Array($0.utf8) })

    static func mayReference(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { prefilter.mayReference(UnsafeRawBufferPointer($0)) }
    }

    @Test("never misses a way of writing a mapped name", arguments: [
        "SELECT * FROM users", "select * from USERS", "SELECT*FROM\"users\"", "SELECT * FROM \"Users\"",
        "users", "TABLE users;", "SELECT * FROM users*", "SELECT 1 FROM t, users", "SELECT * FROM\nUsErS\n",
        "SELECT * FROM \"MixedCase\"", "SELECT * FROM mixedcase",
        #"SELECT * FROM U&"\0075sers""#, #"SELECT * FROM u&"\0075sers""#,
        "SELECT * FROM 운세", "SELECT 'é' FROM \"운세\"",
        "SELECT * FROM \"my table\"", #"SELECT * FROM "a""b""#, #"SELECT * FROM "2fa""#,
        "SELECT * FROM \(longName)", "SELECT * FROM \(longName)xxxxxxxxxx",
        "SELECT * FROM \(String(repeating: "z", count: 70))",
        "SELECT 1users", "SELECT $1users", "SELECT x FROM t WHERE a=1AND b IN (SELECT * FROM users)",
    ])
    func noFalseNegatives(_ text: String) {
        #expect(Self.mayReference(text))
    }

    @Test("rules out texts without any mapped name", arguments: [
        "", "SELECT 1", "SELECT * FROM users_archive", "SELECT * FROM xusers", "SELECT * FROM user",
        "SELECT * FROM 큰운세", "SELECT * FROM my_table", "SELECT * FROM pgbench_accounts WHERE aid = 1",
        "SELECT * FROM \(String(repeating: "n", count: 62))",
    ])
    func rulesOut(_ text: String) {
        #expect(!Self.mayReference(text))
    }
}
