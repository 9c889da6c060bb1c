import NIOCore
import PostgresWire
import ProxyAuth
@testable import ProxySession

/// Deterministic "random" bytes: 1, 2, 3, ... (so an md5 salt is [1, 2, 3, 4]).
let countingRandom: @Sendable (Int) -> [UInt8] = { count in (0..<count).map { UInt8(truncatingIfNeeded: $0 + 1) } }

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// A payload built field by field, the way the wire carries it.
struct Payload {
    var buffer = ByteBufferAllocator().buffer(capacity: 64)

    func cstring(_ value: String) -> Payload {
        var copy = self
        copy.buffer.writeNullTerminatedString(value)
        return copy
    }

    func int32(_ value: Int32) -> Payload {
        var copy = self
        copy.buffer.writeInteger(value)
        return copy
    }

    func uint32(_ value: UInt32) -> Payload {
        var copy = self
        copy.buffer.writeInteger(value)
        return copy
    }

    func byte(_ value: UInt8) -> Payload {
        var copy = self
        copy.buffer.writeInteger(value)
        return copy
    }

    func raw(_ value: [UInt8]) -> Payload {
        var copy = self
        copy.buffer.writeBytes(value)
        return copy
    }
}

/// The SQLSTATE of a `.fail` action, nil for any other action.
func failureState(_ action: ClientStartupStateMachine.Action) -> String? {
    if case .fail(let fields) = action { return fields.sqlState }
    return nil
}

func failureMessage(_ action: ClientStartupStateMachine.Action) -> String? {
    if case .fail(let fields) = action { return fields.message }
    return nil
}
