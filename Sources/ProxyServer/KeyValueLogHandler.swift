import Foundation
import Logging

/// One line per event on standard error: `2026-11-22T10:00:00.123Z level=info msg="..." key=value ...`,
/// easy for people to read and for log shippers to parse.
public struct KeyValueLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String

    public init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var text = "\(Self.timestamp()) level=\(event.level) msg=\(Self.quote(event.message.description))"
        var merged = self.metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 })
        if let error = event.error, merged["error"] == nil { merged["error"] = "\(error)" }
        for key in merged.keys.sorted() {
            text += " \(key)=\(Self.quote("\(merged[key]!)"))"
        }
        text += "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }

    private static func quote(_ value: String) -> String {
        if !value.isEmpty, value.allSatisfy({ $0.isLetter || $0.isNumber || "._-:/[]@".contains($0) }) { return value }
        return "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var time = now.tv_sec
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1,
                      parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec, now.tv_nsec / 1_000_000)
    }
}
