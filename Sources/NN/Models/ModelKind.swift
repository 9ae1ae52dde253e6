/// The model zoo. CIFAR-style ResNets (He et al. 2016, §4.2: 16/32/64 channels, 6n+2 layers)
/// and ImageNet-style ResNet-18/50; the `-small` variants drop the stem max-pool and halve the
/// widths, as the study does for small images (Appendix A.2). The GPTs are character-level
/// causal transformers (GPT-2's architecture as nanoGPT builds it, `GPTShape`): their input is
/// a batch of token sequences, not images.
public enum ModelKind: String, Codable, CaseIterable, Sendable {
    case logreg, mlp, cnn
    case resnet20, resnet32, resnet56
    case resnet18, resnet50
    case resnet18Small = "resnet18-small"
    case resnet50Small = "resnet50-small"
    /// 4 layers, 4 heads, 128 features.
    case gptTiny = "gpt-tiny"
    /// 2 layers, 4 heads, 64 features (for studies: a K = 8 run of a few hundred steps in a minute).
    case gptMini = "gpt-mini"
    /// 2 layers, 2 heads, 32 features (for tests).
    case gptMicro = "gpt-micro"

    /// A language model: input [1, N, 1, T] token ids, output logits for each of the T positions.
    public var isLanguageModel: Bool { GPTShape(self) != nil }

    /// Whether the model has convolutions, so that its numbers depend on `ConvBackend`.
    public var hasConvolutions: Bool {
        switch self {
        case .logreg, .mlp, .gptTiny, .gptMini, .gptMicro: false
        case .cnn, .resnet20, .resnet32, .resnet56, .resnet18, .resnet50, .resnet18Small, .resnet50Small: true
        }
    }
}

/// Shortcut of CIFAR ResNets when the shape changes: option A (zero padding, He et al.'s CIFAR
/// choice, no parameters) or B (1×1 projection + BatchNorm). ImageNet ResNets always use B.
public enum ShortcutKind: String, Codable, CaseIterable, Sendable {
    case a = "zero-pad"
    case b = "projection"
}

/// Which kernels compute the convolutions. `onednn`, the default: oneDNN for the 3×3
/// convolutions with at least 16 input channels (`OneDNNConvolution`; at stride 1 Winograd
/// kernels where they pay, oneDNN's or ours: `WinogradKernels`), our direct kernels for 3×3
/// stride-1 padding-1 convolutions of at most 4 input channels (`DirectConvolution`: a first
/// layer), ours
/// (im2col + GEMM) for the rest, about 1.2×
/// faster per resnet20 or cnn step (Benchmarks/README.md). `blas`: ours alone (im2col + OpenBLAS
/// sgemm), the bits of every run recorded before oneDNN was the default (a saved config.json
/// without `conv_backend` means `blas`). Both are thread- and layout-independent;
/// their bits differ from each other, and oneDNN's also with the instruction set its kernels run
/// on (`onednnInstructionSet`, recorded in config.json), as OpenBLAS's with its core type.
public enum ConvBackend: String, Codable, CaseIterable, Sendable {
    case blas, onednn

    /// The backend of a config or model that names none.
    public static let `default` = ConvBackend.onednn

    /// The instruction set oneDNN's kernels run on in this process, as `DNNL_MAX_CPU_ISA` names it
    /// ("AVX512_CORE", "AVX2", …): the CPU's best unless that variable caps it.
    public static var onednnInstructionSet: String { OneDNN.instructionSet }

    /// Whether the stride-1 convolutions oneDNN takes run Winograd F(4×4, 3×3) kernels in this
    /// process (`WinogradKernels.available`: oneDNN's on AVX512_CORE, ours on AVX2) rather than
    /// oneDNN's direct ones; recorded in config.json beside the instruction set, since they round
    /// differently.
    public static var onednnWinograd: Bool { WinogradKernels.available != nil }

    /// oneDNN's kernels in words, for headers: "oneDNN on AVX512_CORE, Winograd at stride 1".
    public static var onednnKernels: String { onednnKernels(winograd: onednnWinograd) }

    /// The same for a run, which takes the Winograd kernels only where its shapes do (`winograd`,
    /// `Network.usesWinograd`).
    public static func onednnKernels(winograd: Bool) -> String {
        "oneDNN on \(onednnInstructionSet)"
            + (winograd ? (WinogradKernels.available == .ours ? ", our Winograd at stride 1" : ", Winograd at stride 1") : "")
    }
}

/// What to build: model, input geometry and classes. A GPT takes channels 1, height 1, width T
/// (its context length) and classes = the vocabulary size.
public struct ModelSpec: Codable, Equatable, Sendable {
    public var kind: ModelKind
    public var shortcut: ShortcutKind
    public var channels: Int, height: Int, width: Int
    public var classes: Int
    public var convBackend: ConvBackend

    public init(kind: ModelKind, shortcut: ShortcutKind = .a, channels: Int, height: Int, width: Int, classes: Int,
                convBackend: ConvBackend = .default) {
        self.kind = kind
        self.shortcut = shortcut
        self.convBackend = convBackend
        self.channels = channels
        self.height = height
        self.width = width
        self.classes = classes
    }
}

/// A model that cannot be built for the given input, with the reason.
public struct ModelError: Error, CustomStringConvertible {
    public let description: String
}
