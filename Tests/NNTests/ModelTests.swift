import Tensor
import XCTest
@testable import NN
import TestSupport

/// Whole models: parameter counts equal to the PyTorch reference architectures, PyTorch names,
/// initialisation rules of §3, and finite-difference checks of the full loss.
final class ModelTests: XCTestCase {
    func parameterCount(_ kind: ModelKind, c: Int, hw: Int, classes: Int, shortcut: ShortcutKind = .a) throws -> Int {
        try Network(ModelSpec(kind: kind, shortcut: shortcut, channels: c, height: hw, width: hw, classes: classes)).layout.count
    }

    func testParameterCountsMatchReferenceArchitectures() throws {
        XCTAssertEqual(try parameterCount(.mlp, c: 1, hw: 28, classes: 10), 784 * 256 + 256 + 256 * 256 + 256 + 2570)
        XCTAssertEqual(try parameterCount(.cnn, c: 1, hw: 28, classes: 10),
                       (32 * 9 + 32) + (64 * 32 * 9 + 64) + (3136 * 128 + 128) + (1280 + 10))
        XCTAssertEqual(try parameterCount(.logreg, c: 1, hw: 28, classes: 10), 7850)
        // He et al. CIFAR ResNet-20, option A, 3×32×32, 10 classes: 269,722 (the usual PyTorch port).
        XCTAssertEqual(try parameterCount(.resnet20, c: 3, hw: 32, classes: 10), 269_722)
        // torchvision resnet18 / resnet50 with 1000 classes.
        XCTAssertEqual(try parameterCount(.resnet18, c: 3, hw: 224, classes: 1000), 11_689_512)
        XCTAssertEqual(try parameterCount(.resnet50, c: 3, hw: 224, classes: 1000), 25_557_032)
    }

    func testPyTorchNamesAndShapes() throws {
        let net = try Network(ModelSpec(kind: .resnet18, channels: 3, height: 64, width: 64, classes: 10))
        XCTAssertEqual(net.layout.slot(named: "conv1.weight")?.shape, [64, 3, 7, 7])
        XCTAssertEqual(net.layout.slot(named: "layer2.0.downsample.0.weight")?.shape, [128, 64, 1, 1])
        XCTAssertEqual(net.layout.slot(named: "layer4.1.bn2.bias")?.shape, [512])
        XCTAssertEqual(net.layout.slot(named: "fc.weight")?.shape, [10, 512])
        XCTAssertEqual(net.stateLayout.slot(named: "layer1.0.bn1.running_var")?.shape, [64])
        let cnn = try Network(ModelSpec(kind: .cnn, channels: 1, height: 28, width: 28, classes: 10))
        XCTAssertEqual(cnn.layout.slots.map(\.name),
                       ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias",
                        "fc2.weight", "fc2.bias"])
    }

    func testInitialisationFollowsTheStudy() throws {
        let net = try Network(ModelSpec(kind: .resnet20, channels: 1, height: 8, width: 8, classes: 10))
        let replica = Replica(for: net)
        net.initialize(replica, seed: 1)
        func values(_ name: String) -> [Float] {
            let slot = net.layout.slot(named: name)!
            return Array(replica.parameters.array[slot.range])
        }
        XCTAssert(values("layer1.0.bn2.weight").allSatisfy { $0 == 0 }, "last BN γ of a block starts at 0")
        XCTAssert(values("layer1.0.bn1.weight").allSatisfy { $0 == 1 })
        let fc = values("fc.weight")
        let fcStd = (fc.map { $0 * $0 }.reduce(0, +) / Float(fc.count)).squareRoot()
        XCTAssertEqual(fcStd, 0.01, accuracy: 0.002, "final FC ~ N(0, 0.01²)")
        let conv = values("layer3.0.conv2.weight") // [64, 64, 3, 3]: He, fan_out = 64·9
        let convStd = (conv.map { $0 * $0 }.reduce(0, +) / Float(conv.count)).squareRoot()
        XCTAssertEqual(convStd, (2.0 / 576).squareRoot(), accuracy: 0.003)
        let again = Replica(for: net)
        net.initialize(again, seed: 1)
        XCTAssertEqual(again.parameters.array, replica.parameters.array, "same seed, same weights")
    }

    /// Central differences of the mean cross-entropy for a sample of coordinates.
    func checkModelGradient(_ spec: ModelSpec, batch: Int, coordinates: Int = 40, epsilon: Float = 1e-2,
                            relative: Float = 5e-2, absolute: Float = 2e-3) throws {
        let net = try Network(spec)
        let replica = Replica(for: net)
        net.initialize(replica, seed: 11)
        // Perturb γ = 0 layers and the tiny classifier so that every path carries gradient.
        var rng = RandomGenerator(seed: 12)
        for i in 0..<replica.parameters.count { replica.parameters[i] += 0.05 * rng.nextNormal() }
        let images = randomTensor(Shape(spec.channels, batch, spec.height, spec.width), seed: 13)
        let labels = (0..<batch).map { Int32($0 % spec.classes) }
        labels.withUnsafeBufferPointer { lp in
            let l = lp.baseAddress!
            _ = net.trainStep(images: images, labels: l, replica.view, .training(seed: 1, epoch: 0, worker: 0, step: 0))
            let analytic = replica.gradients.array
            var picks = RandomGenerator(seed: 14)
            var got: [Float] = [], want: [Float] = []
            for _ in 0..<coordinates {
                let i = picks.nextInt(below: replica.parameters.count)
                let saved = replica.parameters[i]
                replica.parameters[i] = saved + epsilon
                let plus = net.lossOnly(images, l, replica)
                replica.parameters[i] = saved - epsilon
                let minus = net.lossOnly(images, l, replica)
                replica.parameters[i] = saved
                got.append(analytic[i])
                want.append((plus - minus) / (2 * epsilon))
            }
            assertClose(got, want, relative: relative, absolute: absolute, "\(spec.kind)")
        }
    }

    /// A network's leading parameter-free layers pass the skip of the input gradient on: the
    /// mlp's first `Linear` follows a `Flatten`, so nothing reads its input gradient and it
    /// computes none (a third of its work); the parameters' gradients keep every bit.
    func testLeadingLayersSkipTheUnreadInputGradient() throws {
        let spec = ModelSpec(kind: .mlp, channels: 1, height: 6, width: 5, classes: 4)
        let net = try Network(spec)
        let flags = net.root.children.map { "\($0.name.isEmpty ? String(describing: type(of: $0.layer)) : $0.name)="
            + "\($0.layer.needsInputGradient)" }
        XCTAssertEqual(flags, ["Flatten=false", "fc1=false", "ReLU=true", "fc2=true", "ReLU=true", "fc3=true"])
        let cnn = try Network(ModelSpec(kind: .cnn, channels: 1, height: 8, width: 8, classes: 3))
        XCTAssertEqual(cnn.root.children.map(\.layer.needsInputGradient), [false] + Array(repeating: true, count: cnn.root.children.count - 1),
                       "a first layer with parameters stops the skip")

        let replica = Replica(for: net)
        net.initialize(replica, seed: 3)
        let images = randomTensor(Shape(1, 7, 6, 5), seed: 4)
        let labels: [Int32] = [0, 1, 2, 3, 0, 1, 2]
        func gradients() -> [Float] {
            replica.gradients.zero()
            labels.withUnsafeBufferPointer {
                _ = net.trainStep(images: images, labels: $0.baseAddress!, replica.view,
                                  .training(seed: 1, epoch: 0, worker: 0, step: 0))
            }
            return replica.gradients.array
        }
        let skipping = gradients()
        net.root.needsInputGradient = true
        XCTAssert(net.root.children.allSatisfy(\.layer.needsInputGradient))
        XCTAssertEqual(gradients(), skipping, "skipping an unread input gradient changes no parameter gradient")
        XCTAssert(skipping.contains { $0 != 0 } && skipping[0..<(30 * 256)].contains { $0 != 0 }, "fc1's weight gradient is computed")
    }

    func testWholeModelGradients() throws {
        try checkModelGradient(ModelSpec(kind: .logreg, channels: 1, height: 4, width: 4, classes: 3), batch: 5)
        try checkModelGradient(ModelSpec(kind: .mlp, channels: 1, height: 4, width: 4, classes: 3), batch: 5)
        try checkModelGradient(ModelSpec(kind: .cnn, channels: 2, height: 8, width: 8, classes: 4), batch: 3)
        try checkModelGradient(ModelSpec(kind: .resnet20, channels: 1, height: 8, width: 8, classes: 3), batch: 4,
                               epsilon: 5e-3)
        try checkModelGradient(ModelSpec(kind: .resnet20, shortcut: .b, channels: 1, height: 8, width: 8, classes: 3),
                               batch: 4, epsilon: 5e-3)
        try checkModelGradient(ModelSpec(kind: .resnet18Small, channels: 3, height: 16, width: 16, classes: 3),
                               batch: 2, epsilon: 5e-3)
    }
}

extension Network {
    /// Mean training-mode loss without touching gradients (for finite differences).
    func lossOnly(_ images: Tensor, _ labels: UnsafePointer<Int32>, _ replica: Replica) -> Float {
        let logits = forward(images, replica.view, .training(seed: 1, epoch: 0, worker: 0, step: 0))
        return SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels, gradient: nil).loss
    }
}
