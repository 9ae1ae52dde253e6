import Foundation
import Tensor
import TestSupport
import XCTest

/// The thread-independence tests again, in child processes of this test binary, under every
/// OpenBLAS kernel family the CPU executes: a split of the work that depends on the thread count
/// changes the rounding under some families only (Zen and Haswell, not SkylakeX, for the GEMM row
/// splits this caught), so an Intel machine has to check what an AMD one would show. Every layer
/// that splits its work is covered; the slow ImageNet-style ResNets run under the default family.
final class CoreTypeTests: XCTestCase {
    static let threadTests = [
        "NNTests.ThreadIndependenceTests/testSmallModels",
        "NNTests.ThreadIndependenceTests/testModelsOnFullSizeImages",
        "NNTests.ThreadIndependenceTests/testLayersThatSplitTheirWork",
        "NNTests.TransformerLayerTests/testLayersAreThreadIndependent",
        "NNTests.GPTTrainingTests/testGPTTinyStepIsThreadIndependent",
        "TrainingTests.AlgorithmIdentityTests/testEveryAlgorithmGivesTheSameNumbersOnAnyThreadCount",
        "TrainingTests.AlgorithmIdentityTests/testThreadCountDoesNotChangeTheResult",
        "TrainingTests.AlgorithmIdentityTests/testThreadsOfALoneWorkerDoNotChangeTheResult",
    ]

    func testThreadIndependenceUnderEveryCoreType() throws {
        let families = BLAS.executableCoreTypes(cpuFlags: BLAS.cpuFlags)
        XCTAssertTrue(families.contains("Prescott") || families.isEmpty, "an x86-64 CPU runs SSE3: \(families)")
        let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        for family in families where family != BLAS.coreName {
            let (status, text) = try runCapturingOutput(binary, [CoreTypeTests.threadTests.joined(separator: ",")],
                                                        environment: ["OPENBLAS_CORETYPE": family])
            let failures = text.split(separator: "\n").filter { $0.contains("error:") }
            XCTAssertEqual(status, 0, "under OPENBLAS_CORETYPE=\(family):\n" + failures.joined(separator: "\n"))
            XCTAssertTrue(text.contains("Executed"), "under \(family) the tests did not run:\n\(text.suffix(2000))")
        }
    }
}
