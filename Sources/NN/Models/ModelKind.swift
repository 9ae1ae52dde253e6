/// The model zoo. CIFAR-style ResNets (He et al. 2016, §4.2: 16/32/64 channels, 6n+2 layers)
/// and ImageNet-style ResNet-18/50; the `-small` variants drop the stem max-pool and halve the
/// widths, as the study does for small images (Appendix A.2).
public enum ModelKind: String, Codable, CaseIterable, Sendable {
    case logreg, mlp, cnn
    case resnet20, resnet32, resnet56
    case resnet18, resnet50
    case resnet18Small = "resnet18-small"
    case resnet50Small = "resnet50-small"
}

/// Shortcut of CIFAR ResNets when the shape changes: option A (zero padding, He et al.'s CIFAR
/// choice, no parameters) or B (1×1 projection + BatchNorm). ImageNet ResNets always use B.
public enum ShortcutKind: String, Codable, CaseIterable, Sendable {
    case a = "zero-pad"
    case b = "projection"
}

/// What to build: model, input geometry and classes.
public struct ModelSpec: Codable, Equatable, Sendable {
    public var kind: ModelKind
    public var shortcut: ShortcutKind
    public var channels: Int, height: Int, width: Int
    public var classes: Int

    public init(kind: ModelKind, shortcut: ShortcutKind = .a, channels: Int, height: Int, width: Int, classes: Int) {
        self.kind = kind
        self.shortcut = shortcut
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
