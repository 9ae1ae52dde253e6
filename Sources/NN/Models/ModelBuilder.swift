import Tensor

extension Network {
    /// Builds the network for `spec`, with its own activation workspace.
    public convenience init(_ spec: ModelSpec) throws {
        guard spec.channels > 0, spec.height > 0, spec.width > 0, spec.classes > 1 else {
            throw ModelError(description: "input \(spec.channels)×\(spec.height)×\(spec.width) with \(spec.classes) classes is not a valid model input")
        }
        let root: Sequential
        switch spec.kind {
        case .logreg:
            root = Sequential([("", Flatten()), ("fc", Linear(spec.channels * spec.height * spec.width, spec.classes,
                                                                classifier: true))])
        case .mlp:
            root = Sequential([("", Flatten())] + hiddenLinear("fc1", spec.channels * spec.height * spec.width, 256)
                              + hiddenLinear("fc2", 256, 256) + [("fc3", Linear(256, spec.classes, classifier: true))])
        case .cnn:
            guard spec.height >= 4, spec.width >= 4 else {
                throw ModelError(description: "cnn needs images of at least 4×4 pixels, got \(spec.height)×\(spec.width)")
            }
            let flat = 64 * (spec.height / 4) * (spec.width / 4)
            root = Sequential([
                // ReLU then max-pool, fused (they commute; the pool applies the ReLU to 4× fewer values).
                ("conv1", Conv2d(spec.channels, 32, kernel: 3, padding: 1)),
                ("", MaxPool2d(kernel: 2, relu: true)),
                ("conv2", Conv2d(32, 64, kernel: 3, padding: 1)),
                ("", MaxPool2d(kernel: 2, relu: true)),
                ("", Flatten()),
            ] + hiddenLinear("fc1", flat, 128) + [("fc2", Linear(128, spec.classes, classifier: true))])
        case .resnet20, .resnet32, .resnet56:
            let depth = ["resnet20": 20, "resnet32": 32, "resnet56": 56][spec.kind.rawValue]!
            root = cifarResNet(blocksPerStage: (depth - 2) / 6, spec: spec)
        case .resnet18, .resnet18Small:
            root = imageNetResNet(blocks: [2, 2, 2, 2], bottleneck: false, small: spec.kind == .resnet18Small,
                                  spec: spec)
        case .resnet50, .resnet50Small:
            root = imageNetResNet(blocks: [3, 4, 6, 3], bottleneck: true, small: spec.kind == .resnet50Small,
                                  spec: spec)
        case .gptTiny, .gptMini, .gptMicro:
            root = try gpt(spec)
        }
        self.init(root: root, inputChannels: spec.channels, inputHeight: spec.height, inputWidth: spec.width,
                  classes: spec.classes)
        for leaf in leafLayers(batch: 1) {
            guard let conv = leaf.layer as? Conv2d else { continue }
            do {
                try conv.use(spec.convBackend)
            } catch {
                throw ModelError(description: "conv_backend \(spec.convBackend.rawValue): \(error) (needs Debian's libdnnl2; scripts/setup installs libdnnl-dev)")
            }
        }
    }
}

/// A hidden fully connected layer [in, N] → [out, N] with its ReLU and, when `dropout` is above 0,
/// a `Dropout` of that rate after them (named `<name>_dropout`, which picks its random stream).
/// Without dropout, exactly the layers the mlp and cnn always had, so their results stay the same.
func hiddenLinear(_ name: String, _ inFeatures: Int, _ outFeatures: Int, dropout: Float = 0) -> [(String, Layer)] {
    let layers: [(String, Layer)] = [(name, Linear(inFeatures, outFeatures)), ("", ReLU())]
    return dropout > 0 ? layers + [(name + "_dropout", Dropout(rate: dropout))] : layers
}

private func conv3x3(_ cin: Int, _ cout: Int, stride: Int) -> Conv2d {
    Conv2d(cin, cout, kernel: 3, stride: stride, padding: 1, bias: false)
}

private func projection(_ cin: Int, _ cout: Int, stride: Int) -> Shortcut {
    .projection(Sequential([("0", Conv2d(cin, cout, kernel: 1, stride: stride, bias: false)),
                            ("1", BatchNorm(cout))]))
}

/// conv3×3 → BN+ReLU → conv3×3 → BN(γ = 0), plus shortcut.
private func basicBlock(_ cin: Int, _ cout: Int, stride: Int, shortcut: ShortcutKind) -> ResidualBlock {
    let body = Sequential([
        ("conv1", conv3x3(cin, cout, stride: stride)), ("bn1", BatchNorm(cout, relu: true)),
        ("conv2", conv3x3(cout, cout, stride: 1)), ("bn2", BatchNorm(cout, zeroInitScale: true)),
    ])
    if stride == 1 && cin == cout { return ResidualBlock(body: body, shortcut: .identity) }
    switch shortcut {
    case .a: return ResidualBlock(body: body, shortcut: .zeroPad(stride: stride, outChannels: cout))
    case .b: return ResidualBlock(body: body, shortcut: projection(cin, cout, stride: stride))
    }
}

/// conv1×1 → BN+ReLU → conv3×3(stride) → BN+ReLU → conv1×1(4×) → BN(γ = 0), torchvision v1.5.
private func bottleneckBlock(_ cin: Int, _ width: Int, stride: Int) -> ResidualBlock {
    let cout = 4 * width
    let body = Sequential([
        ("conv1", Conv2d(cin, width, kernel: 1, bias: false)), ("bn1", BatchNorm(width, relu: true)),
        ("conv2", conv3x3(width, width, stride: stride)), ("bn2", BatchNorm(width, relu: true)),
        ("conv3", Conv2d(width, cout, kernel: 1, bias: false)),
        ("bn3", BatchNorm(cout, zeroInitScale: true)),
    ])
    let shortcut: Shortcut = stride == 1 && cin == cout ? .identity : projection(cin, cout, stride: stride)
    return ResidualBlock(body: body, shortcut: shortcut)
}

private func cifarResNet(blocksPerStage n: Int, spec: ModelSpec) -> Sequential {
    var layers: [(String, Layer)] = [
        ("conv1", conv3x3(spec.channels, 16, stride: 1)), ("bn1", BatchNorm(16, relu: true)),
    ]
    var cin = 16
    for (stage, cout) in [16, 32, 64].enumerated() {
        let blocks: [(String, Layer)] = (0..<n).map { i in
            let block = basicBlock(cin, cout, stride: i == 0 && stage > 0 ? 2 : 1, shortcut: spec.shortcut)
            cin = cout
            return ("\(i)", block)
        }
        layers.append(("layer\(stage + 1)", Sequential(blocks)))
    }
    layers += [("", GlobalAveragePool()), ("fc", Linear(64, spec.classes, classifier: true))]
    return Sequential(layers)
}

private func imageNetResNet(blocks: [Int], bottleneck: Bool, small: Bool, spec: ModelSpec) -> Sequential {
    let base = small ? 32 : 64
    var layers: [(String, Layer)] = [
        ("conv1", Conv2d(spec.channels, base, kernel: 7, stride: 2, padding: 3, bias: false)),
        ("bn1", BatchNorm(base, relu: true)),
    ]
    if !small { layers.append(("", MaxPool2d(kernel: 3, stride: 2, padding: 1))) }
    var cin = base
    for (stage, count) in blocks.enumerated() {
        let width = base << stage
        let stageBlocks: [(String, Layer)] = (0..<count).map { i in
            let stride = i == 0 && stage > 0 ? 2 : 1
            let block = bottleneck ? bottleneckBlock(cin, width, stride: stride)
                                   : basicBlock(cin, width, stride: stride, shortcut: .b)
            cin = bottleneck ? 4 * width : width
            return ("\(i)", block)
        }
        layers.append(("layer\(stage + 1)", Sequential(stageBlocks)))
    }
    layers += [("", GlobalAveragePool()), ("fc", Linear(cin, spec.classes, classifier: true))]
    return Sequential(layers)
}
