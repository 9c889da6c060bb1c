// Times the schema rewriter's hot paths against the targets in the routing brief and prints a table.
//
// Run in release: `swift run -c release RewriteBenchmark [name filter]`. Each figure is the median over several runs
// of the mean time per call over many calls; the C parse of the same statement is measured in the same run, for the
// ratio.

import CPgQuery
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SchemaRouting

/// One measured scenario.
struct Scenario {
    var name: String
    var target: String
    var iterations: Int
    /// Called with the iteration number, so a scenario can vary its statement.
    var body: (Int) -> Void
}

let mapping = try SchemaMapping(schemas: [
    "shared_common": ["users", "attachments"],
    "saju_service": ["saju_charts", "kasi_cache"],
])
let benchMapping = try SchemaMapping(schemas: [
    "shared_common": ["users", "attachments"],
    "bench": ["pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"],
])

let pgbenchSelect = "SELECT abalance FROM pgbench_accounts WHERE aid = 48213;"
/// What `pgbench -S -M simple` sends: the same statement with a random key inlined each time (scale 10).
var generator = SystemRandomNumberGenerator()
let varyingSelects: [[UInt8]] = (0..<4_096).map { _ in
    Array("SELECT abalance FROM pgbench_accounts WHERE aid = \(Int.random(in: 1...1_000_000, using: &generator));".utf8)
}
let varyingUpdates: [[UInt8]] = (0..<4_096).map { _ in
    let delta = Int.random(in: 1...5_000, using: &generator)
    let aid = Int.random(in: 1...1_000_000, using: &generator)
    return Array("UPDATE pgbench_accounts SET abalance = abalance + \(delta) WHERE aid = \(aid);".utf8)
}
let pgbenchUpdate = "UPDATE pgbench_accounts SET abalance = abalance + -2870 WHERE aid = 48213;"
let complex = """
    WITH recent AS (SELECT user_id, max(created_at) AS seen FROM attachments GROUP BY user_id) \
    SELECT u.id, c.data, r.seen FROM users u JOIN saju_charts c ON c.user_id = u.id \
    JOIN recent r ON r.user_id = u.id WHERE EXISTS (SELECT 1 FROM kasi_cache k WHERE k.user_id = u.id) LIMIT 50
    """

// Each with an unmapped-name report, as the proxy's services have: a statement without a mapped name is then looked up
// in the cache (for its unmapped names) instead of being ruled out by the prefilter alone.
let passThrough = SchemaRewriter(mapping: mapping, unmappedReport: UnmappedNameReport())
let cached = SchemaRewriter(mapping: benchMapping, unmappedReport: UnmappedNameReport())
let uncached = SchemaRewriter(mapping: mapping, cacheCapacity: 0, unmappedReport: UnmappedNameReport())
let uncachedBench = SchemaRewriter(mapping: benchMapping, cacheCapacity: 0, unmappedReport: UnmappedNameReport())
let withUnmapped = "SELECT a.abalance, n.note FROM pgbench_accounts a JOIN account_notes n USING (aid) WHERE aid = 7"
let empty = SchemaRewriter(mapping: .empty)

// Sanity: each scenario really takes the path it claims to.
precondition(passThrough.rewrite(pgbenchSelect) == .unchanged)
precondition(passThrough.statistics.cacheMisses == 0, "the pass-through statement must be prefiltered")
guard case .rewritten = cached.rewrite(pgbenchUpdate), case .rewritten = uncached.rewrite(complex),
      case .rewritten = cached.rewrite(withUnmapped),
      case .rewritten = cached.rewrite(pgbenchSelect)
else {
    fatalError("benchmark statements are not rewritten")
}
// The first varying statement of each kind is parsed; every other one must come from its template.
for statements in [varyingSelects, varyingUpdates] {
    _ = statements[0].withUnsafeBytes { cached.rewrite($0) }
    let misses = cached.statistics.cacheMisses
    for statement in statements.dropFirst() where statement != statements[0] {
        guard case .rewritten = statement.withUnsafeBytes({ cached.rewrite($0) }) else {
            fatalError("a varying statement is not rewritten")
        }
    }
    precondition(cached.statistics.cacheMisses == misses, "varying literals must hit the template")
}

/// Keeps results alive so the optimizer cannot drop the calls.
nonisolated(unsafe) var sink = 0

func consume(_ outcome: RewriteOutcome) {
    if case .rewritten(let bytes) = outcome {
        sink &+= bytes.count
    } else {
        sink &+= 1
    }
}

func withBytes(_ text: String, _ body: (UnsafeRawBufferPointer) -> Void) {
    var text = text
    text.withUTF8 { body(UnsafeRawBufferPointer($0)) }
}

func cParse(_ text: String) {
    let result = pg_query_parse(text)
    sink &+= result.error == nil ? 1 : 0
    pg_query_free_parse_result(result)
}

var scenarios: [Scenario] = [
    Scenario(name: "empty mapping", target: "~0", iterations: 2_000_000) { _ in
        withBytes(pgbenchSelect) { consume(empty.rewrite($0)) }
    },
    Scenario(name: "prefiltered pass-through (pgbench SELECT)", target: "<= 1 µs", iterations: 1_000_000) { _ in
        withBytes(pgbenchSelect) { consume(passThrough.rewrite($0)) }
    },
    Scenario(name: "exact hit (pgbench SELECT)", target: "<= 2 µs", iterations: 1_000_000) { _ in
        withBytes(pgbenchSelect) { consume(cached.rewrite($0)) }
    },
    Scenario(name: "exact hit (pgbench UPDATE)", target: "<= 2 µs", iterations: 1_000_000) { _ in
        withBytes(pgbenchUpdate) { consume(cached.rewrite($0)) }
    },
    Scenario(name: "literal-varying hit (pgbench SELECT)", target: "<= 2 µs", iterations: 1_000_000) { iteration in
        varyingSelects[iteration & 4_095].withUnsafeBytes { consume(cached.rewrite($0)) }
    },
    Scenario(name: "literal-varying hit (pgbench UPDATE)", target: "<= 2 µs", iterations: 1_000_000) { iteration in
        varyingUpdates[iteration & 4_095].withUnsafeBytes { consume(cached.rewrite($0)) }
    },
    Scenario(name: "exact hit, 1 unmapped name counted", target: "<= 2 µs", iterations: 1_000_000) { _ in
        withBytes(withUnmapped) { consume(cached.rewrite($0)) }
    },
    Scenario(name: "exact hit (complex, \(complex.utf8.count) bytes)", target: "<= 2 µs", iterations: 500_000) { _ in
        withBytes(complex) { consume(cached.rewrite($0)) }
    },
    Scenario(name: "C pg_query_parse (pgbench SELECT)", target: "(baseline)", iterations: 20_000) { _ in
        cParse(pgbenchSelect)
    },
    Scenario(name: "cache miss (pgbench SELECT)", target: "<= 2x C parse", iterations: 20_000) { _ in
        withBytes(pgbenchSelect) { consume(uncachedBench.rewrite($0)) }
    },
    Scenario(name: "C pg_query_parse (pgbench UPDATE)", target: "(baseline)", iterations: 20_000) { _ in
        cParse(pgbenchUpdate)
    },
    Scenario(name: "cache miss (pgbench UPDATE)", target: "<= 2x C parse", iterations: 20_000) { _ in
        withBytes(pgbenchUpdate) { consume(uncachedBench.rewrite($0)) }
    },
    Scenario(name: "C pg_query_parse (complex)", target: "(baseline)", iterations: 5_000) { _ in
        cParse(complex)
    },
    Scenario(name: "cache miss (complex)", target: "<= 2x C parse", iterations: 5_000) { _ in
        withBytes(complex) { consume(uncached.rewrite($0)) }
    },
]

/// Mean nanoseconds per call over `scenario.iterations` calls.
func measure(_ scenario: Scenario) -> Double {
    let clock = ContinuousClock()
    let elapsed = clock.measure {
        for iteration in 0..<scenario.iterations {
            scenario.body(iteration)
        }
    }
    let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
    return nanoseconds / Double(scenario.iterations)
}

func format(_ nanoseconds: Double) -> String {
    nanoseconds < 1_000 ? "\(Int(nanoseconds.rounded())) ns" : "\((nanoseconds / 10).rounded() / 100) µs"
}

func padded(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

// An argument picks the scenarios whose name contains it (for profiling one path); REWRITE_BENCHMARK_SCALE (a
// fraction) shortens every scenario, for running under an instruction counter such as callgrind.
if let filter = CommandLine.arguments.dropFirst().first {
    scenarios = scenarios.filter { $0.name.contains(filter) }
}
if let value = getenv("REWRITE_BENCHMARK_SCALE"), let scale = Double(String(cString: value)) {
    for index in scenarios.indices {
        scenarios[index].iterations = max(10, Int(Double(scenarios[index].iterations) * scale))
    }
}
let runs = 7
var medians: [String: Double] = [:]
print("complex statement (\(complex.utf8.count) bytes):\n\(complex)\n")
print("\(padded("scenario", 44)) \(padded("median", 10)) \(padded("min", 10)) target")
for scenario in scenarios {
    for iteration in 0..<(scenario.iterations / 10) {
        scenario.body(iteration)
    }
    let times = (0..<runs).map { _ in measure(scenario) }.sorted()
    medians[scenario.name] = times[runs / 2]
    let median = padded(format(times[runs / 2]), 10)
    print("\(padded(scenario.name, 44)) \(median) \(padded(format(times[0]), 10)) \(scenario.target)")
}
if let miss = medians["cache miss (complex)"], let parse = medians["C pg_query_parse (complex)"] {
    print("\ncache miss / C parse (complex): \((miss / parse * 100).rounded() / 100)x (target <= 2x)")
}
if let miss = medians["cache miss (pgbench UPDATE)"], let parse = medians["C pg_query_parse (pgbench UPDATE)"] {
    print("cache miss / C parse (pgbench UPDATE): \((miss / parse * 100).rounded() / 100)x")
}
print("(sink \(sink % 10))")
