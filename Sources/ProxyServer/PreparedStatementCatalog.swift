import NIOConcurrencyHelpers
import ProxySession

/// Gives every distinct prepared statement of a service (its text after schema rewriting, plus its
/// parameter types) one proxy-side number, shared by all clients: a statement that fifty clients prepare
/// is prepared once per server connection, under the name `__sp_<number>`, which no client can choose.
final class PreparedStatementCatalog: @unchecked Sendable {
    /// Past this many distinct statements the catalog starts over (numbers are never reused, so server
    /// connections that still hold old ones keep them until their caches evict them).
    static let capacity = 20_000

    private let lock = NIOLock()
    private var numbers: [[UInt8]: Int] = [:]
    private var next = 1
    /// Statements some server accepted: a client's Parse of one can be answered without a server connection.
    private var verified: Set<Int> = []

    /// The number for the statement whose Parse body after the name is `body` (text, NUL, parameter types).
    func number(for body: [UInt8]) -> Int {
        self.lock.withLock {
            if let number = self.numbers[body] { return number }
            if self.numbers.count >= Self.capacity {
                self.numbers.removeAll(keepingCapacity: true)
                self.verified.removeAll(keepingCapacity: true)
            }
            let number = self.next
            self.next += 1
            self.numbers[body] = number
            return number
        }
    }

    func markVerified(_ number: Int) {
        self.lock.withLock { _ = self.verified.insert(number) }
    }

    func isVerified(_ number: Int) -> Bool {
        self.lock.withLock { self.verified.contains(number) }
    }

    static func serverName(_ number: Int) -> String { ProxyStatementName.serverName(number) }

    /// A statement name no statement ever gets: closing it is a no-op that still answers CloseComplete.
    static let absentName = ProxyStatementName.absentName
}
