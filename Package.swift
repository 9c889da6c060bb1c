// swift-tools-version:6.0
import PackageDescription

// The layout of the targets is the architecture:
//   PostgresWire     wire format (frames, the few messages the proxy decodes or writes itself)
//   SchemaRouting    the rewriter: libpg_query + mapping table + prefilter + cache
//   ProxyAuth        SCRAM-SHA-256 / md5 for both sides of the proxy, verifiers
//   ProxyConfig      YAML config, validation, durations, ${ENV}
//   ConnectionPool   per-service pool state machine (no NIO)
//   ProxySession     client and server connection state machines (no sockets)
//   CEventShim       epoll and eventfd for Swift (the Glibc module hides them)
//   COpenSSL         OpenSSL (libssl-dev) for Swift, with inline wrappers for its macros
//   DataPlane        the relay's own event loops: epoll, timers, mailbox, sockets that queue only what the kernel
//                    does not take, TLS sessions on those sockets (no NIO)
//   ProxyServer      the shell: client and server connections on the DataPlane loops, pools, admin console;
//                    NIO for the control plane (metrics HTTP, signals, reload)
//   CatalogTools     libpq for the command line's catalog tools (mapping discover, check --live); not the proxy's
//   schemaproxy      the command line
// The relay's own targets skip the runtime's exclusivity checks in release builds: they were a tenth of the proxy's
// user time per transaction in the profile (swift_beginAccess). Debug builds, which run the unit tests, keep them.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "schemaproxy",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "schemaproxy", targets: ["schemaproxy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        .systemLibrary(name: "CPgQuery"),
        .target(name: "CEventShim"),
        // OpenSSL from Debian's libssl-dev: TLS towards clients and servers, in DataPlane's sockets.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .target(name: "DataPlane", dependencies: ["CEventShim", "COpenSSL"], swiftSettings: hotPath),
        // libpq from Debian's libpq-dev.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .target(
            name: "PostgresWire",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: hotPath
        ),
        .target(name: "SchemaRouting", dependencies: ["CPgQuery"], exclude: ["README.md"], swiftSettings: hotPath),
        .target(name: "ProxyAuth", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "ProxyConfig", dependencies: ["Yams"]),
        .target(name: "ConnectionPool", swiftSettings: hotPath),
        .target(
            name: "ProxySession",
            dependencies: ["PostgresWire", "ProxyAuth", "SchemaRouting", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: hotPath
        ),
        .target(
            name: "ProxyServer",
            dependencies: [
                "PostgresWire", "SchemaRouting", "ProxyAuth", "ProxyConfig", "ConnectionPool", "ProxySession", "DataPlane",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: hotPath
        ),
        .target(name: "CatalogTools", dependencies: ["CLibPQ", "COpenSSL", "ProxyConfig", "SchemaRouting"]),
        .executableTarget(
            name: "schemaproxy",
            dependencies: [
                "ProxyServer", "ProxyConfig", "ProxyAuth", "SchemaRouting", "CatalogTools",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "RewriteBenchmark", dependencies: ["SchemaRouting"], path: "benchmarks/RewriteBenchmark"),

        .testTarget(
            name: "PostgresWireTests",
            dependencies: ["PostgresWire", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(name: "SchemaRoutingTests", dependencies: ["SchemaRouting"]),
        .testTarget(name: "DataPlaneTests", dependencies: ["DataPlane"]),
        .testTarget(name: "ProxyAuthTests", dependencies: ["ProxyAuth"]),
        .testTarget(name: "ProxyConfigTests", dependencies: ["ProxyConfig"]),
        .testTarget(name: "CatalogToolsTests", dependencies: ["CatalogTools"]),
        .testTarget(name: "ConnectionPoolTests", dependencies: ["ConnectionPool"]),
        .testTarget(
            name: "ProxyServerTests",
            dependencies: [
                "ProxyServer", "ProxyConfig", "DataPlane",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "ProxySessionTests",
            dependencies: ["ProxySession", "PostgresWire", "SchemaRouting", .product(name: "NIOCore", package: "swift-nio")]
        ),
    ]
)
