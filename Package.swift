// swift-tools-version:6.0
import Foundation
import PackageDescription

let package = Package(
    name: "LocalSGD",
    products: [
        .executable(name: "localsgd", targets: ["localsgd"]),
        .library(name: "LocalSGD", targets: ["RunFiles", "Config", "Training", "AsyncTraining", "Experiments"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // Only its libyaml (module CYaml): Config reads YAML from the event stream itself,
        // within limits, since Yams' composer and constructor can overflow the stack or trap.
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // C libraries from Debian packages.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // oneDNN (`--conv-backend onednn`, the default); Debian has no dnnl.pc, the module map links it by name.
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),

        // Our Winograd F(4×4, 3×3) convolutions in AVX2 + FMA intrinsics (Swift cannot target an
        // instruction set per function). Optimised in debug builds too, and never contracted
        // into other instructions than the ones written, so every build computes the same bits.
        .target(name: "CWinograd", cSettings: [.unsafeFlags(["-O2", "-ffp-contract=off"])]),
        .target(name: "CDirect", cSettings: [.unsafeFlags(["-O2", "-ffp-contract=off"])]),

        .target(name: "Tensor", dependencies: ["CBLAS"]),
        .target(name: "NN", dependencies: ["Tensor", "CDNNL", "CWinograd", "CDirect"]),
        .target(name: "Data", dependencies: ["Tensor", "CZlib"]),
        .target(name: "Optim", dependencies: ["Tensor"]),
        .target(name: "Comm", dependencies: ["Tensor"]),
        .target(name: "Algorithms", dependencies: ["Comm", "Optim", "Tensor"]),
        // Run files: safetensors, atomic writes, model files, the run directory, checkpoint names.
        .target(name: "RunFiles", dependencies: ["Tensor", "NN", "Data", "CZlib"]),
        // RunConfig and the config files (TOML, YAML, JSON) that set it.
        .target(name: "Config", dependencies: [
            "RunFiles", "Algorithms", "Optim", "Comm", "NN", "Data",
            .product(name: "Yams", package: "Yams"),
        ]),
        // The training loop; it knows the `Comm` protocol only (the executable picks MPI).
        .target(name: "Training", dependencies: [
            "Tensor", "NN", "Data", "Optim", "Comm", "Algorithms", "RunFiles", "Config",
        ]),
        // Asynchronous local SGD as an execution mode: threads per node, averaging in the background.
        .target(name: "AsyncTraining", dependencies: [
            "Training", "Tensor", "NN", "Data", "Optim", "Comm", "Algorithms", "RunFiles", "Config",
        ]),
        .target(name: "Experiments", dependencies: [
            "Training", "AsyncTraining", "Config", "RunFiles", "Algorithms", "Comm", "Optim", "Data", "NN", "Tensor",
        ]),
        // `localsgd launch`: supervising an mpirun job (restart policy, failure causes, events,
        // child processes); no MPI needed to build or test it.
        .target(name: "Launch", dependencies: ["Training", "RunFiles"]),
        .executableTarget(name: "localsgd", dependencies: [
            "Training", "Experiments", "Launch", "Config", "RunFiles", "Algorithms", "Comm", "Optim", "Data", "NN", "Tensor",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .target(name: "TestSupport", dependencies: ["Tensor", "NN"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport"]),
        .testTarget(name: "NNTests", dependencies: ["NN", "CWinograd", "CDirect", "TestSupport"]),
        .testTarget(name: "DataTests", dependencies: ["Data", "TestSupport"]),
        .testTarget(name: "OptimTests", dependencies: ["Optim", "TestSupport"]),
        .testTarget(name: "CommTests", dependencies: ["Comm", "TestSupport"]),
        .testTarget(name: "AlgorithmsTests", dependencies: ["Algorithms", "TestSupport"]),
        .testTarget(name: "RunFilesTests", dependencies: ["RunFiles", "Tensor", "Data", "TestSupport"]),
        .testTarget(name: "ConfigTests", dependencies: ["Config", "RunFiles", "TestSupport"]),
        .target(name: "TrainingTestSupport", dependencies: ["Training", "Config", "Data", "Comm", "NN", "TestSupport"],
                path: "Tests/TrainingTestSupport"),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Config", "RunFiles", "TestSupport", "TrainingTestSupport"]),
        .testTarget(name: "AsyncTrainingTests", dependencies: [
            "AsyncTraining", "Training", "Experiments", "Config", "RunFiles", "TestSupport", "TrainingTestSupport",
        ]),
        .testTarget(name: "LaunchTests", dependencies: ["Launch", "Training", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["Training", "Config", "RunFiles", "NN", "Tensor", "TestSupport"]),
        .testTarget(name: "ExperimentsTests", dependencies: [
            "Experiments", "Training", "Config", "RunFiles", "Data", "Comm", "NN", "Tensor", "TestSupport", "TrainingTestSupport",
        ]),
    ],
    swiftLanguageModes: [.v5]
)

// MARK: - Open MPI backend (optional)
// The MPI targets exist only where Open MPI's development files are installed, so the core builds
// and tests without them. LOCALSGD_MPI=1 forces them on, LOCALSGD_MPI=0 off. Only the executable
// links them (`MPIBackend`, under `#if canImport(CommMPI)`).
let mpiEnabled: Bool = {
    switch ProcessInfo.processInfo.environment["LOCALSGD_MPI"] {
    case "0": return false
    case "1": return true
    default:
        let pcDirectories = [
            "/usr/lib/x86_64-linux-gnu/pkgconfig", "/usr/lib/aarch64-linux-gnu/pkgconfig",
            "/usr/lib/pkgconfig", "/usr/local/lib/pkgconfig",
        ]
        return pcDirectories.contains { FileManager.default.fileExists(atPath: $0 + "/ompi-c.pc") }
    }
}()
if mpiEnabled {
    package.products.append(.executable(name: "localsgd-mpi-check", targets: ["localsgd-mpi-check"]))
    package.targets += [
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .target(name: "CommMPI", dependencies: ["CMPI", "Comm", "Tensor"]),
        .executableTarget(name: "localsgd-mpi-check", dependencies: ["CommMPI", "CMPI", "Comm", "Tensor"],
                          path: "Sources/MPICheck"),
        .testTarget(name: "CommMPITests", dependencies: ["localsgd-mpi-check", "Training", "Config", "RunFiles", "Tensor"]),
    ]
    package.targets.first { $0.name == "localsgd" }?.dependencies.append("CommMPI")
}

// MARK: - Fuzz targets (only with LOCALSGD_FUZZ=1)
// libFuzzer executables, one per parser (Fuzz/README.md); built by `scripts/fuzz` in their own
// scratch path with `-sanitize=fuzzer -enable-testing`, never by the normal build.
if ProcessInfo.processInfo.environment["LOCALSGD_FUZZ"] == "1" {
    package.targets.append(.target(name: "FuzzSupport", path: "Fuzz/Support"))
    let fuzzTargets: [(name: String, dependencies: [Target.Dependency])] = [
        ("idx", ["Data"]), ("cifar", ["Data"]), ("safetensors", ["RunFiles", "Training"]),
        ("toml", ["Config"]), ("yaml", ["Config"]), ("json", ["Config"]),
        ("sweep", ["Experiments", "Config"]), ("network", ["Comm"]), ("checkpoint-every", ["RunFiles", "Config"]),
    ]
    for target in fuzzTargets {
        package.products.append(.executable(name: "fuzz-" + target.name, targets: ["fuzz-" + target.name]))
        package.targets.append(.executableTarget(name: "fuzz-" + target.name, dependencies: target.dependencies + ["FuzzSupport"],
                                                 path: "Fuzz/Targets/" + target.name))
    }
}
