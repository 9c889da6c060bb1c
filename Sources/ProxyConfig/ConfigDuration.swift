/// The duration syntax of the config file: `500ms`, `5s`, `10m`, `1h`, combinations such as `1m30s`, and `0`.
///
/// Units are `ms`, `s`, `m`, `h`; numbers are whole and non-negative; parts may come in any order and add up.
/// A bare number is only allowed for `0` so that `30` (seconds? minutes?) is never guessed.
public enum ConfigDuration {
    /// The duration written in `text`, or `nil` if it is not one.
    public static func parse(_ text: String) -> Duration? {
        let bytes = Array(text.utf8)
        if bytes == Array("0".utf8) { return .zero }
        guard !bytes.isEmpty else { return nil }
        var total: Int64 = 0                          // milliseconds
        var index = 0
        while index < bytes.count {
            var number: Int64 = 0
            let start = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                let (times, overflow1) = number.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times.addingReportingOverflow(Int64(bytes[index] - UInt8(ascii: "0")))
                guard !overflow1, !overflow2 else { return nil }
                number = sum
                index += 1
            }
            guard index > start else { return nil }
            let unitStart = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "a"), bytes[index] <= UInt8(ascii: "z") {
                index += 1
            }
            let multiplier: Int64
            switch String(decoding: bytes[unitStart..<index], as: UTF8.self) {
            case "ms": multiplier = 1
            case "s": multiplier = 1_000
            case "m": multiplier = 60_000
            case "h": multiplier = 3_600_000
            default: return nil
            }
            let (part, overflow1) = number.multipliedReportingOverflow(by: multiplier)
            let (sum, overflow2) = total.addingReportingOverflow(part)
            guard !overflow1, !overflow2 else { return nil }
            total = sum
        }
        return .milliseconds(total)
    }

    /// Writes `duration` back in the same syntax, largest units first (`1h30m`, `1s500ms`, `0s`); sub-millisecond
    /// parts are dropped (the syntax cannot express them).
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        var milliseconds = seconds * 1_000 + attoseconds / 1_000_000_000_000_000
        if milliseconds <= 0 { return "0s" }
        var text = ""
        let units: [(String, Int64)] = [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)]
        for (unit, size) in units where milliseconds >= size {
            text += "\(milliseconds / size)\(unit)"
            milliseconds %= size
        }
        return text
    }
}
