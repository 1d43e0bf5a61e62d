// swift-tools-version: 6.0
// Volley: a load-testing and performance-diagnosis tool for HTTP services.
import PackageDescription

/// The engine and the recorders run once per request: in release builds, skip the dynamic
/// exclusivity checks on class properties (measured at ~1.5 % of the generator's CPU). The
/// per-loop ownership model, not runtime checks, is what keeps that state exclusive.
let hotPathSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))
]

let package = Package(
    name: "Volley",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "volley", targets: ["volley"]),
        .library(name: "VolleyCore", targets: ["VolleyCore"]),
        .library(name: "VolleyAnalysis", targets: ["VolleyAnalysis"]),
        .library(name: "VolleyEngine", targets: ["VolleyEngine"]),
        .library(name: "VolleyReport", targets: ["VolleyReport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
    ],
    targets: [
        // Vocabulary: load models, pacing, outcomes, recorders and the run result. No NIO.
        .target(
            name: "VolleyCore",
            dependencies: [.product(name: "Histogram", package: "hdrhistogram-swift"), "CZlib"],
            swiftSettings: hotPathSettings
        ),
        // Analysis: what the numbers mean — the diagnosis rules, comparisons, knee, USL, SLO
        // search and capacity. Reads Core's values only: no NIO, no I/O, testable on fixtures.
        .target(
            name: "VolleyAnalysis",
            dependencies: ["VolleyCore", .product(name: "Histogram", package: "hdrhistogram-swift")]
        ),
        // The load engine: a byte-level HTTP/1.1 client on SwiftNIO event loops.
        .target(
            name: "VolleyEngine",
            dependencies: [
                "VolleyCore",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
                // HTTP/2: only the HPACK decoder, for the server's response headers.
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                "CBrotli",
            ],
            swiftSettings: hotPathSettings
        ),
        // The system's zlib, for the HdrHistogram V2 compressed encoding in Core. Not CompressNIO:
        // it works on NIO's ByteBuffer (and its own zlib module is not a product), and Core has no NIO.
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // The system's brotli decoder (libbrotli-dev), for `Content-Encoding: br` bodies.
        .systemLibrary(
            name: "CBrotli",
            pkgConfig: "libbrotlidec",
            providers: [.apt(["libbrotli-dev"])]
        ),
        // Plan files: YAML with source locations → Plan values, validated all at once.
        .target(
            name: "VolleyPlan",
            dependencies: ["VolleyCore", .product(name: "Yams", package: "Yams")]
        ),
        // Renderers: terminal summary and progress, JSON. Never touches NIO.
        .target(
            name: "VolleyReport",
            dependencies: ["VolleyCore", "VolleyAnalysis", .product(name: "Histogram", package: "hdrhistogram-swift")]
        ),
        // In-process servers on 127.0.0.1:0 that misbehave on request, for tests and demos.
        .target(
            name: "VolleyTestSupport",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                "CBrotliEncoder",
            ]
        ),
        // The system's brotli encoder, for the test servers' `br` bodies only.
        .systemLibrary(
            name: "CBrotliEncoder",
            pkgConfig: "libbrotlienc",
            providers: [.apt(["libbrotli-dev"])]
        ),
        // The lab: a real HTTP service (Hummingbird + SQLite through GRDB, or PostgreSQL through
        // PostgresNIO) whose bottlenecks are knobs — a QueuePool-style connection pool, query
        // latency, synchronous logging, a response cache, a worker/backlog model and CPU work.
        .target(
            name: "VolleyLab",
            dependencies: [
                "VolleyProbes",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The run history: every run, its summary and histograms, in SQLite (GRDB, WAL).
        .target(
            name: "VolleyStore",
            dependencies: [
                "VolleyCore", "VolleyReport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // Probes: the server's side sampled on the load's clock (PostgreSQL through PostgresNIO;
        // Redis over a small RESP client of its own on SwiftNIO).
        .target(
            name: "VolleyProbes",
            dependencies: [
                "VolleyCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `volley demo`: the lab, a stepped load, the knee, one knob changed — told in words.
        .target(
            name: "VolleyDemo",
            dependencies: [
                "VolleyCore", "VolleyAnalysis", "VolleyEngine", "VolleyLab", "VolleyPlan", "VolleyReport",
                "VolleyStore",
                "VolleyProbes",
            ]
        ),
        // The thin command-line front end: parse, call the libraries, map errors to exit codes.
        .executableTarget(
            name: "volley",
            dependencies: [
                "VolleyCore", "VolleyAnalysis", "VolleyEngine", "VolleyPlan", "VolleyReport", "VolleyLab", "VolleyDemo",
                "VolleyStore", "VolleyProbes",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // A runnable example of the Swift API: `swift run volley-swift-api-example`.
        .executableTarget(
            name: "volley-swift-api-example",
            dependencies: ["VolleyCore", "VolleyEngine", "VolleyReport", "VolleyTestSupport"],
            path: "Examples/SwiftAPI"
        ),
        .testTarget(
            name: "VolleyCoreTests",
            dependencies: ["VolleyCore", .product(name: "Histogram", package: "hdrhistogram-swift")]
        ),
        .testTarget(
            name: "VolleyAnalysisTests",
            dependencies: ["VolleyAnalysis", "VolleyCore", .product(name: "Histogram", package: "hdrhistogram-swift")]
        ),
        .testTarget(
            name: "VolleyEngineTests",
            dependencies: [
                "VolleyCore", "VolleyEngine", "VolleyTestSupport",
                // Plans over HTTP/2 are read from YAML, as users write them.
                "VolleyPlan",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                // HTTP/2 interop: a swift-nio-http2 server for the codec's own client.
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "VolleyPlanTests",
            dependencies: ["VolleyCore", "VolleyPlan"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "VolleyLabTests",
            dependencies: ["VolleyLab", "VolleyCore", "VolleyAnalysis", "VolleyEngine", "VolleyProbes"]
        ),
        .testTarget(
            name: "VolleyProbesTests",
            dependencies: [
                "VolleyProbes", "VolleyCore", "VolleyLab", "VolleyEngine",
                // A server whose first connection hangs, for the health watch's probes.
                "VolleyTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "VolleyStoreTests", dependencies: ["VolleyStore", "VolleyCore"]),
        // The proof servers themselves: each does what its documentation promises, measured
        // with plain NIO clients, before any engine is checked against it.
        .testTarget(
            name: "VolleyTestSupportTests",
            dependencies: [
                "VolleyTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(name: "VolleyReportTests", dependencies: ["VolleyCore", "VolleyReport"]),
        .testTarget(
            name: "VolleyCLITests",
            dependencies: [
                "volley", "VolleyCore", "VolleyAnalysis", "VolleyEngine", "VolleyReport", "VolleyStore",
                "VolleyTestSupport",
                // The Kubernetes manifests are parsed back to check what they carry.
                .product(name: "Yams", package: "Yams"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
