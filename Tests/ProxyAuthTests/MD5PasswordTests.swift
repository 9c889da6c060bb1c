import Crypto
import Testing
@testable import ProxyAuth

@Suite struct MD5PasswordTests {
    /// Hashes PostgreSQL 15 stored (`SET password_encryption = 'md5'`) for user "y" / "secret" and
    /// "heal7_app" / "p@ss:w/rd".
    @Test func storedHashMatchesPostgres() {
        #expect(MD5Password.hash(user: "y", password: "secret") == "md5d18bf5f8eddaae3aed1d69b23a252748")
        #expect(MD5Password.hash(user: "heal7_app", password: "p@ss:w/rd") == "md563b761f8785bf7730616aa199a7b35d1")
    }

    @Test func responseFollowsDefinition() {
        let salt: [UInt8] = [0x01, 0x02, 0xFE, 0xFF]
        // Independent computation: "md5" + hex(md5(hex(md5(password + user)) + salt)).
        let inner = Insecure.MD5.hash(data: Array("secrety".utf8)).map { hex($0) }.joined()
        let outer = Insecure.MD5.hash(data: Array(inner.utf8) + salt).map { hex($0) }.joined()
        #expect(MD5Password.response(user: "y", password: "secret", salt: salt) == "md5" + outer)
        #expect(MD5Password.response(storedHash: "md5" + inner, salt: salt) == "md5" + outer)
    }

    @Test func storedHashShape() {
        #expect(MD5Password.isStoredHash("md5d18bf5f8eddaae3aed1d69b23a252748"))
        #expect(!MD5Password.isStoredHash("md5d18bf5f8eddaae3aed1d69b23a25274"))
        #expect(!MD5Password.isStoredHash("md5D18BF5F8EDDAAE3AED1D69B23A252748"))
        #expect(!MD5Password.isStoredHash("md5-18bf5f8eddaae3aed1d69b23a252748"))
    }

    private func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }
}

@Suite struct StoredCredentialTests {
    @Test func classifies() throws {
        #expect(try StoredCredential(parsing: "hunter2") == .plain("hunter2"))
        let hash = "md5d18bf5f8eddaae3aed1d69b23a252748"
        #expect(try StoredCredential(parsing: hash) == .md5(hash))
        let verifier = SCRAMVerifier.make(password: "pw", salt: [1, 2], iterations: 2)
        #expect(try StoredCredential(parsing: verifier.stringValue) == .scram(verifier))
        #expect(throws: AuthError.self) { try StoredCredential(parsing: "SCRAM-SHA-256$4096:abc") }
    }

    @Test func md5WorksForPlainAndHashButNotVerifier() throws {
        let salt: [UInt8] = [9, 9, 9, 9]
        let response = MD5Password.response(user: "y", password: "secret", salt: salt)
        #expect(StoredCredential.plain("secret").verifyMD5(response: response, user: "y", salt: salt))
        #expect(try StoredCredential(parsing: "md5d18bf5f8eddaae3aed1d69b23a252748")
            .verifyMD5(response: response, user: "y", salt: salt))
        #expect(!StoredCredential.plain("secret").verifyMD5(response: response, user: "y", salt: [9, 9, 9, 8]))
        #expect(!StoredCredential.plain("Secret").verifyMD5(response: response, user: "y", salt: salt))
        let scram = StoredCredential.scram(.make(password: "secret", salt: [1], iterations: 1))
        #expect(!scram.supportsMD5)
        #expect(StoredCredential.plain("secret").supportsMD5)
        #expect(!scram.verifyMD5(response: response, user: "y", salt: salt))
    }

    @Test func scramVerifierFromEachKind() throws {
        let derived = try #require(StoredCredential.plain("pw").scramVerifier(iterations: 16))
        #expect(derived == SCRAMVerifier.make(password: "pw", salt: derived.salt, iterations: 16))
        #expect(derived.salt.count == 16)
        #expect(StoredCredential.md5("md5d18bf5f8eddaae3aed1d69b23a252748").scramVerifier() == nil)
        let stored = SCRAMVerifier.make(password: "pw", salt: [3], iterations: 1)
        #expect(StoredCredential.scram(stored).scramVerifier() == stored)
    }

    @Test func verifiesClearTextPasswords() {
        let verifier = SCRAMVerifier.make(password: "pw", salt: [3], iterations: 3)
        let md5 = StoredCredential.md5(MD5Password.hash(user: "u", password: "pw"))
        for credential in [StoredCredential.plain("pw"), md5, .scram(verifier)] {
            #expect(credential.verify(password: "pw", user: "u"))
            #expect(!credential.verify(password: "pW", user: "u"))
        }
    }

    @Test func passwordHasher() throws {
        let scram = try PasswordHasher.hash(password: "secret", method: .scramSHA256)
        let verifier = try #require(SCRAMVerifier(parsing: scram))
        #expect(verifier.iterations == 4096 && verifier.salt.count == 16)
        #expect(StoredCredential.scram(verifier).verify(password: "secret", user: "ignored"))
        let md5 = try PasswordHasher.hash(password: "secret", method: .md5, user: "y")
        #expect(md5 == "md5d18bf5f8eddaae3aed1d69b23a252748")
        #expect(throws: AuthError.self) { try PasswordHasher.hash(password: "secret", method: .md5) }
        #expect(PasswordHasher.Method(rawValue: "scram-sha-256") == .scramSHA256)
    }
}

@Suite struct Base64Tests {
    @Test func rfc4648Vectors() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=",
                       "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(Base64.decode(encoded) == Array(plain.utf8))
        }
    }

    @Test(arguments: ["Zg=", "Z===", "Zg==Zg==", "Zm9v YmFy", "Zm9*", "=Zm9"])
    func rejectsInvalid(_ text: String) {
        #expect(Base64.decode(text) == nil)
    }
}
