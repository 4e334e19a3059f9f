// swift-tools-version:6.2
import PackageDescription

/// Settings shared by every target of ours: Swift 6 strict concurrency plus the upcoming
/// features the house style asks for, warnings as errors. Dependencies keep their own settings.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "schedctl",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "schedctl", targets: ["schedctl"]),
        .executable(name: "schedbench", targets: ["schedbench"]),
        .executable(name: "schedctl-supervise", targets: ["schedctl-supervise"]),
        .library(name: "Scheduler", targets: ["Scheduler"]),
        .library(name: "Jobs", targets: ["Jobs"]),
        .library(name: "Secrets", targets: ["Secrets"]),
        .library(name: "Brokers", targets: ["Brokers"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    ],
    targets: [
        // What every module of ours uses: clocks, `Duration` helpers, the HTTP client and form
        // encoding. Foundation only.
        .target(name: "SchedctlBase", swiftSettings: swiftSettings),
        .target(
            name: "Scheduler",
            dependencies: [
                "SchedctlBase",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Secrets",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SecretsSQLite",
            dependencies: [
                "Secrets",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Brokers",
            dependencies: [
                "SchedctlBase",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // The paper broker's ledger in SQLite, as SecretsSQLite is the vault's: Brokers itself
        // knows no database.
        .target(
            name: "BrokersSQLite",
            dependencies: [
                "Brokers",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Sandbox",
            dependencies: [
                "Brokers",
                "SchedctlBase",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "CProcessSpawn"),
        // The supervisor each `exec` command runs under (C, no runtime: small and quick to start).
        .executableTarget(name: "schedctl-supervise", dependencies: ["CProcessSpawn"]),
        .systemLibrary(name: "CCurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(
            name: "Jobs",
            dependencies: [
                "CProcessSpawn",
                "SchedctlBase",
                "Scheduler",
                "Brokers",
                "BrokersSQLite",
                "Secrets",
                "SecretsSQLite",
                "CCurl",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Inspection",
            dependencies: ["Scheduler", "Jobs", "Secrets"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StatusHTTP",
            dependencies: [
                "Inspection",
                "SchedctlBase",
                "Scheduler",
                "Jobs",
                "Secrets",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // `serve` as a library: the plan source and every long-lived service in one group.
        .target(
            name: "SchedctlService",
            dependencies: [
                "CProcessSpawn",
                "SchedctlBase",
                "Scheduler",
                "Jobs",
                "StatusHTTP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "schedctl",
            dependencies: [
                "SchedctlService",
                "StatusHTTP",
                "Inspection",
                "Brokers",
                "Sandbox",
                "Scheduler",
                "Jobs",
                "Secrets",
                "SecretsSQLite",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "schedbench",
            dependencies: [
                "SchedctlBase", "Scheduler", "Jobs", "Brokers", "SchedctlTesting", "StatusHTTP", "Inspection",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SchedctlTesting",
            dependencies: ["SchedctlBase", "Scheduler", "Sandbox"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SchedulerTests",
            dependencies: ["SchedctlBase", "Scheduler", "Jobs", "SchedctlTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BrokersTests",
            dependencies: [
                "Brokers",
                "BrokersSQLite",
                "Sandbox",
                "SchedctlBase",
                "SchedctlTesting",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SecretsTests",
            dependencies: [
                "Secrets",
                "SecretsSQLite",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "JobsTests",
            dependencies: [
                "Jobs", "SchedctlBase", "Scheduler", "Brokers", "Sandbox", "Secrets", "SecretsSQLite", "SchedctlTesting",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Golden"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SchedctlTests",
            dependencies: [
                "schedctl", "SchedctlBase", "Scheduler", "Jobs", "Brokers", "Sandbox", "SchedctlTesting", "Secrets", "StatusHTTP", "Inspection",
                "SchedctlService",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
