#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostgresWire

extension AdminConsole {
    /// How many names `SHOW UNMAPPED` lists per service, most referenced first.
    static let unmappedRowsPerService = 100

    /// `SHOW UNMAPPED [service]`: per service, the unqualified table names left alone because the mapping does not
    /// name them, with how often they were referenced and when first and last.
    func showUnmapped(service name: String?, into writer: inout MessageWriter) throws {
        var rows: [[String?]] = []
        for service in try self.services(named: name).sorted(by: { $0.name < $1.name }) {
            for row in service.unmappedReport.top(Self.unmappedRowsPerService) {
                rows.append([service.name, row.name, "\(row.count)", Self.timestamp(row.firstSeen),
                             Self.timestamp(row.lastSeen)])
            }
        }
        self.table(["service", "name", "count", "first_seen", "last_seen"], rows, tag: "SHOW", into: &writer)
    }

    /// `2026-12-07 05:01:02+00`, as PostgreSQL writes a timestamptz in UTC.
    static func timestamp(_ seconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))+00"
    }
}
