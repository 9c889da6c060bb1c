/// How connecting to a backend is retried (`retry`): up to `attempts` tries in all, waiting `initialBackoff` after
/// the first failure and doubling the wait up to `maxBackoff`.
public struct RetrySettings: Sendable, Equatable {
    /// [5]; total tries including the first, at least 1.
    public var attempts: Int
    /// [100ms]
    public var initialBackoff: Duration
    /// [5s]; at least `initialBackoff`.
    public var maxBackoff: Duration

    public init(attempts: Int = 5, initialBackoff: Duration = .milliseconds(100), maxBackoff: Duration = .seconds(5)) {
        self.attempts = attempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }

    /// The wait before try number `attempt` (2 for the first retry): `initialBackoff * 2^(attempt-2)`, capped.
    public func backoff(beforeAttempt attempt: Int) -> Duration {
        guard attempt >= 2 else { return .zero }
        var wait = initialBackoff
        for _ in 0..<(attempt - 2) {
            if wait >= maxBackoff { break }
            wait = wait * 2
        }
        return min(wait, maxBackoff)
    }
}
