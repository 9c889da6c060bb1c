#if canImport(Glibc)
import Glibc
#endif

/// A system call of the data plane failed.
public enum DataPlaneError: Error, Equatable, CustomStringConvertible {
    case system(String, CInt)
    case invalidAddress(String)

    public var description: String {
        switch self {
        case .system(let call, let code): return "\(call) failed: \(String(cString: strerror(code)))"
        case .invalidAddress(let address): return "invalid address \(address)"
        }
    }
}
