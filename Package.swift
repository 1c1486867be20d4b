// swift-tools-version:6.0
import PackageDescription

// vault runs on Linux (Debian 12 is what CI builds and tests on). SwiftPM has no way to name
// Linux as the only platform; the code uses Glibc, /proc and Linux file-system calls, so other
// platforms are not claimed here.
//
// The layers, lowest first. Each target depends only on targets above it in this list, so a
// layer's internals cannot leak upward: the compiler refuses an import that skips the order.
//   CLibPQ, CZstd, COpenSSL   system libraries, seen only by the target that wraps each
//                             (libpq is opened at first use, not linked)
//   VaultSupport              hex, base64, JSON, timestamps, log lines, bounded work queues
//   VaultSystem               system calls, local files, child processes, the blocking-work executor
//   VaultCrypto               AES-256-GCM, SHA-256, HMAC, scrypt, keys (libcrypto)
//   VaultCompression          zstd (libzstd)
//   VaultStorage              the Storage protocol: a directory, or an S3 bucket; locks and leases
//   VaultPostgres             libpq sessions, LSNs, WAL names, timelines, pg_control, page checksums
//   VaultPolicy               the policy file: model, loader with line numbers, cron, shard map
//   VaultFormat               the repository format: envelope, keys, manifests, WAL archive
//   VaultOperations           one folder per job: Archive, Backup, Restore, Verify, Expire, ...;
//                             the scheduler daemon and its metrics
//   vault                     the executable: arguments, output, exit codes
let package = Package(
    name: "vault",
    products: [
        .executable(name: "vault", targets: ["vault"]),
        .library(name: "VaultOperations", targets: ["VaultOperations"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // libpq's header only: the library is opened at first use (Sources/CLibPQ/include/CLibPQ.h).
        .target(name: "CLibPQ"),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CLinux"),
        .target(
            name: "VaultSupport",
            dependencies: [.product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "VaultSystem",
            dependencies: [
                "VaultSupport", "CLinux",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .target(name: "VaultCrypto", dependencies: ["COpenSSL", "VaultSupport"]),
        .target(name: "VaultCompression", dependencies: ["CZstd", "VaultSupport"]),
        .target(
            name: "VaultStorage",
            dependencies: [
                "VaultSystem", "VaultCrypto",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .target(name: "VaultPostgres", dependencies: ["CLibPQ", "VaultSystem"]),
        .target(
            name: "VaultPolicy",
            dependencies: ["VaultSystem", "VaultStorage", "VaultPostgres", .product(name: "Yams", package: "Yams")]
        ),
        .target(
            name: "VaultFormat",
            dependencies: ["VaultCrypto", "VaultCompression", "VaultStorage", "VaultPostgres"]
        ),
        .target(
            name: "VaultOperations",
            dependencies: [
                "VaultFormat", "VaultPolicy",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "vault",
            dependencies: [
                "VaultOperations",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // Writes synthetic 10 TB manifests for the memory benchmark; not installed.
        .executableTarget(name: "vault-synthetic", dependencies: ["VaultOperations"]),
        .testTarget(name: "VaultSystemTests", dependencies: ["VaultSystem"]),
        .testTarget(name: "VaultStorageTests", dependencies: ["VaultStorage"]),
        .testTarget(name: "VaultPostgresTests", dependencies: ["VaultPostgres"]),
        .testTarget(name: "VaultPolicyTests", dependencies: ["VaultPolicy", "VaultOperations"]),
        .testTarget(name: "VaultFormatTests", dependencies: ["VaultFormat"]),
        .testTarget(name: "VaultOperationsTests", dependencies: ["VaultOperations"]),
        .testTarget(name: "VaultCommandLineTests", dependencies: ["vault"]),
        .testTarget(name: "VaultFuzzTests", dependencies: ["VaultOperations"]),
        .testTarget(name: "VaultIntegrationTests", dependencies: ["VaultOperations"]),
    ]
)
