/// The datasets we train on. The study uses ImageNet (§3) and TinyImageNet (A.2); CIFAR-10/100
/// and (Fashion-)MNIST are the sizes a laptop can sweep, and `synthetic` serves the tests.
/// `text` is a plain-text corpus for a character-level language model (`TextCorpus`).
/// The raw value is the name used on the command line.
public enum DatasetKind: String, Codable, CaseIterable, Sendable {
    case fashionMNIST = "fashion-mnist"
    case mnist
    case cifar10
    case cifar100
    case synthetic
    case text

    /// Where the data lives when no `--data-dir` is given (Debian's `dataset-*` packages, and
    /// `fortunes` for text).
    public var defaultDirectory: String? {
        switch self {
        case .fashionMNIST: return "/usr/share/datasets/fashion-mnist"
        case .mnist: return "/usr/share/datasets/mnist"
        case .text: return "/usr/share/games/fortunes"
        case .cifar10, .cifar100, .synthetic: return nil
        }
    }

    /// Human name used in messages.
    var displayName: String {
        switch self {
        case .fashionMNIST: return "Fashion-MNIST"
        case .mnist: return "MNIST"
        case .cifar10: return "CIFAR-10"
        case .cifar100: return "CIFAR-100"
        case .synthetic: return "synthetic"
        case .text: return "text corpus"
        }
    }

    /// The second half of a "missing data" sentence: how to get the files.
    var installHint: String {
        switch self {
        case .fashionMNIST:
            return "install it with `apt-get install dataset-fashion-mnist`, or pass --data-dir "
                + "with a directory holding the four IDX files"
        case .mnist:
            return "download the four IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                + "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) there, or pass --data-dir"
        case .cifar10:
            return "download the \"CIFAR-10 binary version\" (cifar-10-binary.tar.gz), extract it "
                + "and pass --data-dir with the extracted directory"
        case .cifar100:
            return "download the \"CIFAR-100 binary version\" (cifar-100-binary.tar.gz), extract it "
                + "and pass --data-dir with the extracted directory"
        case .synthetic:
            return "the synthetic dataset needs no files"
        case .text:
            return "install the fortunes with `apt-get install fortunes`, or pass --data-dir with a text file or "
                + "a directory of text files"
        }
    }
}
