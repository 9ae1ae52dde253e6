import Tensor
import XCTest
@testable import NN
import TestSupport

/// A training step gives bitwise the same loss, gradients and BatchNorm statistics whatever the
/// number of threads its layers run on (OpenBLAS on one thread, called from each): every split of
/// the work is fixed by the shapes. `CoreTypeTests` reruns these under every OpenBLAS kernel family
/// the CPU executes, since a split that depends on the threads shows only under some of them.
final class ThreadIndependenceTests: XCTestCase {
    override func setUp() { BLAS.setThreads(1) }

    /// Loss, then gradients, then state after one step on `threads` threads.
    func step(_ spec: ModelSpec, batch: Int, threads: Int) throws -> [Float] {
        let net = try Network(spec)
        net.threads = threads
        let replica = Replica(for: net)
        net.initialize(replica, seed: 5)
        let images = randomTensor(Shape(spec.channels, batch, spec.height, spec.width), seed: 6)
        let labels = (0..<batch).map { Int32($0 % spec.classes) }
        let loss = labels.withUnsafeBufferPointer {
            net.trainStep(images: images, labels: $0.baseAddress!, replica.view, .training(seed: 1, epoch: 0, worker: 0, step: 0)).loss
        }
        return [loss] + replica.gradients.array + replica.state.array
    }

    func assertThreadIndependent(_ spec: ModelSpec, batch: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let one = try step(spec, batch: batch, threads: 1)
        for threads in 2...4 {
            let other = try step(spec, batch: batch, threads: threads)
            let differing = zip(one, other).filter { $0 != $1 }.count
            XCTAssertEqual(differing, 0, "\(spec.kind.rawValue) (\(spec.shortcut.rawValue)) batch \(batch): \(differing) of \(one.count) values differ between 1 and \(threads) threads",
                           file: file, line: line)
        }
    }

    /// The small models of the zoo (ResNet-32/56 repeat ResNet-20's blocks).
    func testSmallModels() throws {
        for kind in [ModelKind.logreg, .mlp, .cnn, .resnet20] {
            try assertThreadIndependent(ModelSpec(kind: kind, channels: 1, height: 8, width: 8, classes: 5), batch: 4)
        }
        try assertThreadIndependent(ModelSpec(kind: .resnet20, shortcut: .b, channels: 2, height: 8, width: 8, classes: 5),
                                    batch: 10)
    }

    /// The basic-block and bottleneck ImageNet ResNets, at their `-small` widths (ResNet-18/50 add
    /// a max-pool, which works per plane, at widths too slow for a unit test).
    func testImageNetStyleResNets() throws {
        for kind in [ModelKind.resnet18Small, .resnet50Small] {
            try assertThreadIndependent(ModelSpec(kind: kind, channels: 1, height: 8, width: 8, classes: 5), batch: 4)
        }
    }

    /// The same with oneDNN computing the 3×3 convolutions of at least 16 input channels
    /// (`--conv-backend onednn`), at batches that split unevenly into its image groups.
    func testModelsOnOneDNNConvolutions() throws {
        let cases: [(ModelKind, ShortcutKind, Int, Int)] = [(.resnet20, .b, 8, 6), (.resnet20, .a, 8, 5), (.cnn, .a, 12, 5),
                                                            (.resnet18Small, .b, 8, 3)]
        for (kind, shortcut, size, batch) in cases {
            try assertThreadIndependent(ModelSpec(kind: kind, shortcut: shortcut, channels: 1, height: size, width: size,
                                                  classes: 5, convBackend: .onednn), batch: batch)
        }
    }

    /// The mlp and cnn on Fashion-MNIST-sized images, where their layers split their work.
    func testModelsOnFullSizeImages() throws {
        try assertThreadIndependent(ModelSpec(kind: .mlp, channels: 1, height: 28, width: 28, classes: 10), batch: 32)
        try assertThreadIndependent(ModelSpec(kind: .cnn, channels: 1, height: 28, width: 28, classes: 10), batch: 8)
    }

    /// Layers at sizes where each splits its work into several parts: fully connected rows and
    /// columns, 1×1 convolutions by rows, 3×3 and stride-2 convolutions by image groups, and the
    /// flatten transpose. Forward output, input gradient and parameter gradients.
    func testLayersThatSplitTheirWork() {
        func pass(_ make: () -> Layer, input: Shape, threads: Int) -> [Float] {
            let context = StepContext.testing(threads: threads), layer = make()
            let harness = LayerHarness(layer, seed: 3)
            let x = randomTensor(input, seed: 4)
            let y = layer.forward(x, harness.replica.view, context)
            let dy = randomTensor(y.shape, seed: 5)
            let dx = layer.backward(dy, harness.replica.view, context)
            return y.array + dx.array + harness.replica.gradients.array
        }
        let layers: [(String, () -> Layer, Shape)] = [
            ("linear 512→256", { Linear(512, 256) }, Shape(512, 32)),
            ("conv 1×1 64→64", { Conv2d(64, 64, kernel: 1) }, Shape(64, 4, 16, 16)),
            ("conv 3×3 8→16", { Conv2d(8, 16, kernel: 3, padding: 1) }, Shape(8, 8, 12, 12)),
            ("conv 3×3 stride 2", { Conv2d(8, 16, kernel: 3, stride: 2, padding: 1) }, Shape(8, 8, 12, 12)),
            ("flatten", { Flatten() }, Shape(64, 32, 7, 7)),
            ("dropout", { Dropout(rate: 0.3) }, Shape(64, 32, 7, 7)),
        ]
        for (name, make, input) in layers {
            let one = pass(make, input: input, threads: 1)
            for threads in 2...4 {
                let other = pass(make, input: input, threads: threads)
                XCTAssertEqual(zip(one, other).filter { $0 != $1 }.count, 0, "\(name): 1 against \(threads) threads")
            }
        }
    }

    /// The splits themselves: at most `Split.maximumParts` parts, the same for any thread count.
    func testSplitsDependOnTheSizesAlone() {
        let split = Split(1000, minimum: 100, alignment: 16)
        XCTAssertEqual(split.parts, Split.maximumParts)
        XCTAssertEqual((0..<split.parts).map { split.range($0).count }.reduce(0, +), 1000)
        XCTAssertEqual(Split(150, minimum: 100).parts, 1)
    }
}

extension ThreadIndependenceTests {
    /// col2im of one image group adds nothing, not even a masked zero, to other images, which
    /// another thread may be writing (a read-modify-write there lost updates: a race seen as
    /// 2 differing gradients with 4 threads). −0 + 0 = +0, so a −0 that stays −0 was not written.
    func testShiftedAddsWriteOnlyTheirOwnImages() {
        let h = 3, w = 4, image = h * w
        for shift in [(-1, -1), (-1, 0), (0, -1), (1, 1), (0, 1), (1, 0)] {
            let planes = [Float](repeating: -0.0, count: 3 * image)
            var x = planes
            var tap = [Float](repeating: 1, count: image)
            x.withUnsafeMutableBufferPointer { xs in
                tap.withUnsafeMutableBufferPointer { t in
                    addShiftedRows(t.baseAddress!, rowStride: image, c: 1, h: h, w: w, shift: (shift.0, shift.1),
                                   columns: image..<(2 * image), into: xs.baseAddress!, planeStride: 3 * image)
                }
            }
            let outside = Array(x[0..<image]) + Array(x[(2 * image)...])
            XCTAssertTrue(outside.allSatisfy { $0 == 0 && $0.sign == .minus }, "shift \(shift): \(outside)")
            XCTAssertEqual(x[image..<(2 * image)].reduce(0, +), Float(image - (shift.0 == 0 ? 0 : w) - (shift.1 == 0 ? 0 : h) + (shift.0 != 0 && shift.1 != 0 ? 1 : 0)),
                           "shift \(shift): every in-image entry added once")
        }
    }
}
