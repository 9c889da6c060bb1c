/// A problem with one value, before the reader knows (or adds) the key path; becomes a ``ConfigError``.
struct FieldError: Error {
    var message: String

    init(_ message: String) {
        self.message = message
    }
}
