// swift-tools-version:6.0
// m2d-serve: M2D audio embeddings in Swift. Targets form a one-way graph (see docs/DESIGN.md):
// C shims <- M2DTensor <- M2DOps / M2DCheckpoint / M2DAudio <- M2DModel <- executables.
import Foundation
import PackageDescription

/// The numeric targets are compiled for AVX2+FMA when the build machine has them, so a SIMD8 lane
/// loop is one ymm instruction, not two SSE ones (GELU and softmax run twice as fast); no FMA
/// contraction, so results are unchanged. M2D_PORTABLE=1 (not empty, not 0) builds for baseline x86-64 instead, and a
/// binary built for AVX2 refuses, with a message, to start on a CPU without it (CProcess).
let buildForAVX2: Bool = {
    #if arch(x86_64) && os(Linux)
    let portable = ProcessInfo.processInfo.environment["M2D_PORTABLE"].map { !$0.isEmpty && $0 != "0" } ?? false
    guard !portable,
          let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let flags = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
    let features = Set(flags.split(separator: " "))
    return features.contains("avx2") && features.contains("fma")
    #else
    return false
    #endif
}()

/// Open MPI (Debian libopenmpi-dev) for data-parallel m2d-train, linked into that executable only. Without its
/// headers the build still works, and m2d-train under mpirun says what to install.
let openMPI = "/usr/lib/x86_64-linux-gnu/openmpi"
/// M2D_NO_MPI=1 builds without it even when installed (to check that build and its message).
let hasOpenMPI = FileManager.default.fileExists(atPath: openMPI + "/include/mpi.h")
    && (ProcessInfo.processInfo.environment["M2D_NO_MPI"].map { $0.isEmpty || $0 == "0" } ?? true)
let mpiC: [CSetting] = hasOpenMPI
    ? [.define("M2D_HAVE_MPI"), .unsafeFlags(["-I" + openMPI + "/include", "-I" + openMPI + "/include/openmpi"])] : []
let mpiLink: [LinkerSetting] = hasOpenMPI
    ? [
        .unsafeFlags(["-L" + openMPI + "/lib", "-Xlinker", "-rpath", "-Xlinker", openMPI + "/lib"]),
        .linkedLibrary("mpi"),
    ]
    : []

let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]
/// The numeric targets are optimised in debug builds too (tests run them). -O, not -Ounchecked: the
/// shape preconditions stay. Measured in one run against -Ounchecked (make bench, make bench-train):
/// the encoder at batch 1 and 8 and a training step within +-6%, the noise of this machine.
let optimized: [SwiftSetting] = strict + [.unsafeFlags(["-O"])]
    + (buildForAVX2 ? [.unsafeFlags(["-target-cpu", "haswell"])] : [])

let package = Package(
    name: "m2d-serve",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "m2d-embed", targets: ["m2d-embed"]),
        .executable(name: "m2d-bench", targets: ["m2d-bench"]),
        .executable(name: "m2d-server", targets: ["m2d-server"]),
        .executable(name: "m2d-train", targets: ["m2d-train"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        .package(url: "https://github.com/swiftcsv/SwiftCSV", from: "0.10.0"),
        .package(url: "https://github.com/swift-extras/swift-extras-base64", from: "1.2.0"),
    ],
    targets: [
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CSndFile", pkgConfig: "sndfile", providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(name: "CSoxr", pkgConfig: "soxr", providers: [.apt(["libsoxr-dev"])]),
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd", providers: [.apt(["libmicrohttpd-dev"])]),

        .target(name: "CProcess", cSettings: buildForAVX2 ? [.define("M2D_BUILT_FOR_AVX2")] : []),
        // Optimised in debug builds too: the tests run the kernels on full-size products.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O2"])], linkerSettings: [.linkedLibrary("pthread")]),
        .target(name: "CDNNL", dependencies: ["CKernels"], cSettings: [.unsafeFlags(["-O2"])],
                linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "CSwaggerUI"),
        .target(name: "CMPI", cSettings: mpiC, linkerSettings: mpiLink),
        .target(name: "M2DJSON", swiftSettings: optimized),
        .target(
            name: "M2DTensor", dependencies: ["COpenBLAS", "CDNNL", "CKernels", "CProcess"], swiftSettings: optimized),
        .target(name: "M2DOps", dependencies: ["M2DTensor"], swiftSettings: optimized),
        .target(name: "M2DCheckpoint", dependencies: ["M2DTensor", "M2DJSON"], swiftSettings: optimized),
        .target(name: "M2DAudio", dependencies: ["M2DTensor", "CSndFile", "CSoxr"], swiftSettings: optimized),
        .target(name: "M2DModel", dependencies: ["M2DOps", "M2DCheckpoint", "M2DAudio"], swiftSettings: optimized),
        .target(
            name: "M2DText", dependencies: ["M2DTensor", "M2DOps", "M2DCheckpoint"], swiftSettings: optimized),
        .target(
            name: "M2DTraining", dependencies: ["M2DModel", .product(name: "SwiftCSV", package: "SwiftCSV")],
            swiftSettings: optimized),

        .target(
            name: "M2DServer",
            dependencies: [
                "M2DModel", "M2DText", "M2DJSON", "CMicroHTTPD", "CSwaggerUI",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ExtrasBase64", package: "swift-extras-base64"),
            ],
            resources: [.embedInCode("Resources/openapi.yaml")],
            swiftSettings: strict),
        .executableTarget(
            name: "m2d-server",
            dependencies: [
                "M2DServer", "M2DTensor", "CProcess",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "m2d-embed",
            dependencies: [
                "M2DModel", "M2DText", "M2DJSON", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "m2d-train",
            dependencies: [
                "M2DModel", "M2DText", "M2DTraining", "CProcess", "CMPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "m2d-bench",
            dependencies: [
                "M2DModel", "M2DText", "M2DTraining", "M2DServer", "M2DAudio", "CProcess",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: optimized),

        .target(
            name: "TestSupport", dependencies: ["M2DTensor", "M2DCheckpoint", "M2DAudio"], path: "Tests/TestSupport"),
        .testTarget(name: "M2DTensorTests", dependencies: ["M2DTensor", "CKernels", "TestSupport"]),
        .testTarget(name: "M2DJSONTests", dependencies: ["M2DJSON"]),
        .testTarget(name: "M2DOpsTests", dependencies: ["M2DOps", "TestSupport"]),
        .testTarget(name: "M2DCheckpointTests", dependencies: ["M2DCheckpoint", "TestSupport"]),
        .testTarget(name: "M2DAudioTests", dependencies: ["M2DAudio", "TestSupport"]),
        .testTarget(name: "M2DModelTests", dependencies: ["M2DModel", "TestSupport"]),
        .testTarget(name: "M2DTextTests", dependencies: ["M2DText", "M2DTensor", "TestSupport"]),
        .testTarget(name: "M2DTrainingTests", dependencies: ["M2DTraining", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["m2d-embed", "M2DModel", "M2DText", "M2DJSON", "TestSupport"]),
        .testTarget(
            name: "M2DServerTests", dependencies: ["M2DServer", "M2DText", "m2d-server", "m2d-embed", "TestSupport"]),
    ]
)
