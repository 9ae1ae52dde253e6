import XCTest
import Tensor
@testable import NN
import TestSupport

/// Dropout: its backward against its forward, evaluation, the kept fraction, and its mask as a
/// function of the step context alone (not of the calls before, nor of the threads).
final class DropoutTests: XCTestCase {
    let step = StepContext.training(seed: 3, epoch: 1, worker: 2, step: 5)

    /// Output and input gradient of a fresh `Dropout(rate:)` named `name` on x.
    func pass(rate: Float = 0.3, name: String = "drop", _ x: Tensor, dy: Tensor? = nil,
              _ context: StepContext) -> (y: [Float], dx: [Float]) {
        let layer = Dropout(rate: rate)
        var parameters = ParameterLayout(), state = ParameterLayout()
        layer.register(prefix: name, parameters: &parameters, state: &state)
        let r = Replica(parameterCount: 0, stateCount: 0).view
        let y = layer.forward(x, r, context).array
        let dx = dy.map { layer.backward($0, r, context).array } ?? []
        return (y, dx)
    }

    /// dx = dy · mask exactly, with mask = y / x ∈ {0, 1/(1 − p)} (x has no zeros).
    func testGradientIsTheMaskScaledUpstream() {
        let x = randomTensor(Shape(6, 5, 4, 4), seed: 1), dy = randomTensor(Shape(6, 5, 4, 4), seed: 2)
        let (y, dx) = pass(rate: 0.25, x, dy: dy, step)
        for i in 0..<x.count {
            let mask = y[i] / x[i]
            XCTAssertTrue(y[i] == 0 || abs(mask - 1 / 0.75) < 1e-6, "element \(i): mask \(mask)")
            XCTAssertEqual(dx[i], y[i] == 0 ? 0 : dy[i] * (1 / 0.75), "element \(i)")
        }
    }

    /// Finite differences with the mask fixed: every pass of the check uses the same context,
    /// which gives the same mask.
    func testFiniteDifferencesWithTheMaskFixed() {
        checkLayerGradients(Dropout(rate: 0.4), input: Shape(4, 3, 5, 5), context: step)
    }

    /// Evaluation (and rate 0) is the identity: the input itself forward, dy itself backward.
    func testIdentityInEvaluation() {
        let x = randomTensor(Shape(3, 4, 5, 5), seed: 3), dy = randomTensor(Shape(3, 4, 5, 5), seed: 4)
        let r = Replica(parameterCount: 0, stateCount: 0).view
        for (layer, context) in [(Dropout(rate: 0.5), StepContext.evaluation), (Dropout(rate: 0), step)] {
            XCTAssertTrue(layer.forward(x, r, context) === x)
            XCTAssertTrue(layer.backward(dy, r, context) === dy)
        }
    }

    /// Of 200 000 elements, the fraction kept is 1 − p within 0.01 (the binomial's standard
    /// deviation is at most 0.0011), and the mean of the output for x = 1 is 1 within 0.05
    /// (at most 0.0067 for p = 0.9): inverted dropout keeps the expectation.
    func testFractionKeptAndExpectation() {
        let ones = Tensor(Shape(200, 1000), values: [Float](repeating: 1, count: 200_000))
        for rate: Float in [0.1, 0.5, 0.9] {
            let y = pass(rate: rate, ones, step).y
            let kept = Double(y.filter { $0 != 0 }.count) / Double(y.count)
            XCTAssertEqual(kept, Double(1 - rate), accuracy: 0.01, "rate \(rate)")
            XCTAssertEqual(y.reduce(0, +) / Float(y.count), 1, accuracy: 0.05, "rate \(rate)")
        }
    }

    /// The mask is a function of (seed, epoch, worker, step) and the layer's name: the same for
    /// the same context (on a fresh layer or after other calls), another one for any other.
    func testMaskIsDeterminedByTheContext() {
        let x = randomTensor(Shape(8, 16, 6, 6), seed: 5)
        let reference = pass(x, step).y
        XCTAssertEqual(pass(x, step).y, reference)
        let layer = Dropout(rate: 0.3), r = Replica(parameterCount: 0, stateCount: 0).view
        var parameters = ParameterLayout(), state = ParameterLayout()
        layer.register(prefix: "drop", parameters: &parameters, state: &state)
        _ = layer.forward(x, r, .training(seed: 9, epoch: 9, worker: 9, step: 9))
        XCTAssertEqual(layer.forward(x, r, step).array, reference, "after another step's call")
        let others: [(String, StepContext)] = [
            ("seed", .training(seed: 4, epoch: 1, worker: 2, step: 5)),
            ("epoch", .training(seed: 3, epoch: 2, worker: 2, step: 5)),
            ("worker", .training(seed: 3, epoch: 1, worker: 3, step: 5)),
            ("step", .training(seed: 3, epoch: 1, worker: 2, step: 6)),
        ]
        for (what, context) in others { XCTAssertNotEqual(pass(x, context).y, reference, "another \(what)") }
        XCTAssertNotEqual(pass(name: "other", x, step).y, reference, "another layer name")
    }

    /// 100 352 elements, split into four parts: the same output and gradient on 1 to 4 threads.
    func testSameMaskOnAnyThreadCount() {
        let x = randomTensor(Shape(64, 32, 7, 7), seed: 6), dy = randomTensor(Shape(64, 32, 7, 7), seed: 7)
        XCTAssertEqual(Split(x.count, minimum: 16 * 1024, alignment: Dropout.block).parts, 4)
        let one = pass(x, dy: dy, step)
        for threads in 2...4 {
            let other = pass(x, dy: dy, step.on(Workspace(threads: threads)))
            XCTAssertEqual(other.y, one.y, "\(threads) threads")
            XCTAssertEqual(other.dx, one.dx, "\(threads) threads")
        }
    }
}

/// Dropout as a building block of the model builder: the existing models do not use it, and a
/// network with it trains the same on any number of threads.
final class DropoutModelTests: XCTestCase {
    override func setUp() { BLAS.setThreads(1) }

    func testExistingModelsHaveNoDropout() throws {
        for kind in ModelKind.allCases where ![.resnet18, .resnet50].contains(kind) && !kind.isLanguageModel {
            let net = try Network(ModelSpec(kind: kind, channels: 1, height: 8, width: 8, classes: 3))
            XCTAssertFalse(net.leafLayers(batch: 1).contains { $0.layer is Dropout }, kind.rawValue)
        }
        XCTAssertEqual(hiddenLinear("fc1", 4, 3).count, 2, "no dropout: Linear and ReLU, as before")
        XCTAssertTrue(hiddenLinear("fc1", 4, 3, dropout: 0.5).last?.1 is Dropout)
    }

    /// An mlp with dropout after each hidden layer: loss and gradients of one step, on 1 and 3
    /// threads, are the same; the loss of another step differs (another mask).
    func testNetworkWithDropout() {
        func step(threads: Int, step m: Int) -> [Float] {
            let root = Sequential([("", Flatten())] + hiddenLinear("fc1", 64, 512, dropout: 0.5)
                                  + hiddenLinear("fc2", 512, 256, dropout: 0.5) + [("fc3", Linear(256, 5, classifier: true))])
            let net = Network(root: root, inputChannels: 1, inputHeight: 8, inputWidth: 8, classes: 5)
            net.threads = threads
            let replica = Replica(for: net)
            net.initialize(replica, seed: 5)
            let images = randomTensor(Shape(1, 64, 8, 8), seed: 6), labels = (0..<64).map { Int32($0 % 5) }
            let loss = labels.withUnsafeBufferPointer {
                net.trainStep(images: images, labels: $0.baseAddress!, replica.view,
                              .training(seed: 1, epoch: 0, worker: 0, step: m)).loss
            }
            return [loss] + replica.gradients.array
        }
        let one = step(threads: 1, step: 0)
        XCTAssertEqual(step(threads: 3, step: 0), one)
        XCTAssertNotEqual(step(threads: 1, step: 1)[0], one[0])
    }
}
