import Foundation

/// The password normalization SCRAM asks for (RFC 4013 SASLprep), done the way PostgreSQL does it.
///
/// PostgreSQL prepares the password with SASLprep when it makes a verifier and when it checks a proof, and falls back
/// to the raw UTF-8 bytes when the password is not a valid SASLprep string. The proxy must derive the same bytes, or a
/// verifier made by PostgreSQL would not match a proof made by the proxy (and the other way round).
///
/// What is implemented: pure-ASCII passwords are used as they are (PostgreSQL's fast path, the common case);
/// otherwise non-ASCII spaces map to U+0020, "mapped to nothing" characters are removed, the result is NFKC
/// normalized, and a result that contains a prohibited or (in Unicode 3.2) unassigned code point, or that is empty,
/// falls back to the raw bytes. Known gap: the RFC 3454 bidirectional-text check is not done, so a password that mixes
/// right-to-left and left-to-right letters may prepare differently than in PostgreSQL.
public enum SASLprep {
    /// The bytes that go into `Hi()` for `password`.
    public static func prepare(_ password: String) -> [UInt8] {
        let raw = Array(password.utf8)
        if raw.allSatisfy({ $0 < 0x80 }) {
            return raw
        }
        var mapped = String.UnicodeScalarView()
        for scalar in password.unicodeScalars {
            if isNonASCIISpace(scalar.value) {
                mapped.append(" ")
            } else if !isMappedToNothing(scalar.value) {
                mapped.append(scalar)
            }
        }
        let normalized = String(mapped).precomposedStringWithCompatibilityMapping
        if normalized.isEmpty {
            return raw
        }
        for scalar in normalized.unicodeScalars where isProhibited(scalar) {
            return raw
        }
        return Array(normalized.utf8)
    }

    /// RFC 3454 table C.1.2.
    private static func isNonASCIISpace(_ value: UInt32) -> Bool {
        switch value {
        case 0x00A0, 0x1680, 0x2000...0x200B, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// RFC 3454 table B.1.
    private static func isMappedToNothing(_ value: UInt32) -> Bool {
        switch value {
        case 0x00AD, 0x034F, 0x1806, 0x180B...0x180D, 0x200B...0x200D, 0x2060, 0xFE00...0xFE0F, 0xFEFF: return true
        default: return false
        }
    }

    /// RFC 4013 section 2.3 (tables C.1.2 through C.9) and 2.5 (A.1, unassigned in Unicode 3.2).
    private static func isProhibited(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if isNonASCIISpace(value) { return true }
        switch value {
        case 0x0000...0x001F, 0x007F, 0x0080...0x009F: return true                        // C.2.1, C.2.2
        case 0x06DD, 0x070F, 0x180E, 0x200C...0x200F, 0x2028...0x202E: return true        // C.2.2, C.8
        case 0x2060...0x2063, 0x206A...0x206F, 0xFEFF, 0xFFF9...0xFFFD: return true       // C.2.2, C.6, C.8
        case 0x1D173...0x1D17A, 0x0340, 0x0341, 0x2FF0...0x2FFB: return true              // C.2.2, C.7, C.8
        case 0xE000...0xF8FF, 0xF0000...0xFFFFD, 0x100000...0x10FFFD: return true         // C.3 private use
        case 0xFDD0...0xFDEF, 0xE0001, 0xE0020...0xE007F: return true                     // C.4, C.9
        default: break
        }
        if value & 0xFFFE == 0xFFFE { return true }                                       // C.4 non-characters
        guard let age = scalar.properties.age else { return true }                       // A.1 unassigned
        return age.major > 3 || (age.major == 3 && age.minor > 2)
    }
}
