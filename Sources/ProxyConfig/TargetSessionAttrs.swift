/// Which of a backend URL's hosts is acceptable (libpq's `target_session_attrs`).
///
/// With several hosts the proxy tries them in order and keeps the first that satisfies this; `any` takes the first
/// that accepts a connection.
public enum TargetSessionAttrs: String, Sendable, Equatable, CaseIterable {
    case any
    case readWrite = "read-write"
    case readOnly = "read-only"
    case primary
    case standby
    case preferStandby = "prefer-standby"
}
