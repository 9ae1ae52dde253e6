import Tensor

extension Network {
    /// One layer of the network with no children (containers expanded), its PyTorch-style name
    /// and the shape of its input for a batch of `n`.
    public struct LeafLayer {
        public let name: String
        public let layer: Layer
        public let input: Shape
    }

    /// The leaf layers in forward order for a batch of `n` (for per-layer benchmarks).
    public func leafLayers(batch n: Int) -> [LeafLayer] {
        var leaves: [LeafLayer] = []
        _ = collectLeaves(root, name: "", input: Shape(inputChannels, n, inputHeight, inputWidth), into: &leaves)
        return leaves
    }

    /// Whether oneDNN computes any of the convolutions (`ConvBackend.onednn`, on a shape it takes),
    /// or our direct kernels do, which run only where oneDNN's instruction set is AVX2 or later
    /// (`DirectConvolution`): either way the run's bits depend on `ConvBackend.onednnInstructionSet`.
    public var usesOneDNN: Bool {
        leafLayers(batch: 1).contains { ($0.layer as? Conv2d).map { $0.backend == .onednn || $0.usesDirectKernels } ?? false }
    }

    /// Whether Winograd kernels (`kernels`: this process's, or the ones named, for tests) compute
    /// any convolution at one of these batch sizes (training and evaluation), so that the run's
    /// bits depend on them too.
    public func usesWinograd(batches: [Int], kernels: WinogradKernels? = WinogradKernels.available) -> Bool {
        batches.contains { n in
            leafLayers(batch: n).contains { ($0.layer as? Conv2d)?.usesWinograd(input: $0.input, kernels: kernels) == true }
        }
    }
}

/// Appends the leaves of `layer` to `leaves` and returns its output shape.
private func collectLeaves(_ layer: Layer, name: String, input: Shape, into leaves: inout [Network.LeafLayer]) -> Shape {
    switch layer {
    case let s as Sequential:
        return s.children.reduce(input) { shape, child in
            collectLeaves(child.layer, name: joinName(name, child.name), input: shape, into: &leaves)
        }
    case let block as ResidualBlock:
        if case .projection(let p) = block.shortcut {
            _ = collectLeaves(p, name: joinName(name, "downsample"), input: input, into: &leaves)
        }
        return collectLeaves(block.body, name: name, input: input, into: &leaves)
    case let block as TransformerBlock:
        // Its sub-layers in forward order (the residual adds are not layers); attn stays whole.
        let parts: [(String, Layer)] = [("ln_1", block.ln1), ("attn", block.attn), ("ln_2", block.ln2), ("mlp", block.mlp)]
        for (part, layer) in parts { _ = collectLeaves(layer, name: joinName(name, part), input: input, into: &leaves) }
        return block.outputShape(for: input)
    default:
        leaves.append(Network.LeafLayer(name: name, layer: layer, input: input))
        return layer.outputShape(for: input)
    }
}
