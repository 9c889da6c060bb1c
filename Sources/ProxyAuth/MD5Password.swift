import Crypto

/// PostgreSQL's md5 password scheme (`AuthenticationMD5Password`).
///
/// The stored form is `"md5" + hex(md5(password + username))`; on the wire the client answers a 4-byte salt with
/// `"md5" + hex(md5(hex(md5(password + username)) + salt))`. The scheme is weak and PostgreSQL deprecates it; the
/// proxy supports it because older clients and servers still use it.
public enum MD5Password {
    /// The stored hash of `password` for `user`: `"md5"` followed by 32 lowercase hex digits.
    public static func hash(user: String, password: String) -> String {
        "md5" + hexMD5(Array(password.utf8) + Array(user.utf8))
    }

    /// The wire response for a plain-text `password`, as a client (or the proxy towards a server) sends it.
    public static func response(user: String, password: String, salt: [UInt8]) -> String {
        response(storedHash: hash(user: user, password: password), salt: salt)
    }

    /// The wire response computed from a stored `"md5..."` hash (the password itself is not needed).
    public static func response(storedHash: String, salt: [UInt8]) -> String {
        "md5" + hexMD5(Array(storedHash.utf8.dropFirst(3)) + salt)
    }

    /// Whether `text` has the stored-hash shape: `"md5"` and 32 hex digits (PostgreSQL's own test).
    public static func isStoredHash(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 35, text.hasPrefix("md5") else { return false }
        let digits = UInt8(ascii: "0")...UInt8(ascii: "9")
        let letters = UInt8(ascii: "a")...UInt8(ascii: "f")
        return bytes.dropFirst(3).allSatisfy { digits.contains($0) || letters.contains($0) }
    }

    static func hexMD5(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var output: [UInt8] = []
        output.reserveCapacity(32)
        for byte in Insecure.MD5.hash(data: bytes) {
            output.append(digits[Int(byte >> 4)])
            output.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: output, as: UTF8.self)
    }
}
