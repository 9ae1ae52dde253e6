/// An in-memory dataset: the 𝒟 = {(xᵢ, yᵢ)} that every worker of Algorithm 2 reads its shard
/// from, or the held-out set the study evaluates on (§3). Either normalized images with one
/// class each, or a token sequence cut into windows of `width` = T tokens with T next-token
/// labels each (`TokenWindows`, a character-level language model's data).
///
/// Images: `images` is `count × sampleSize` floats, sample-major, each sample in C, H, W order,
/// and `labels` one class per sample. `fillBatch` turns a set of samples into the `[C, N, H, W]`
/// layout of the compute core and writes N·`labelsPerSample` labels.
public struct Dataset: Sendable {
    /// Where the samples live.
    public enum Storage: Sendable {
        /// `count × sampleSize` normalized floats and one class per sample.
        case images([Float], labels: [Int32])
        /// Token ids with windows of T tokens and T next-token labels per sample.
        case tokens(TokenWindows)
    }

    public let name: String
    public let channels: Int
    public let height: Int
    public let width: Int
    /// Classes of the labels: the vocabulary size for text.
    public let classes: Int
    public let storage: Storage
    /// Samples (windows for text).
    public let count: Int
    /// Labels of each sample: 1 for images, T (one next token per input token) for text.
    public let labelsPerSample: Int

    public var sampleSize: Int { channels * height * width }

    /// An image dataset: `images` holds `labels.count × channels·height·width` floats.
    public init(
        name: String, channels: Int, height: Int, width: Int, classes: Int,
        images: [Float], labels: [Int32]
    ) {
        precondition(channels > 0 && height > 0 && width > 0, "Dataset \(name): non-positive image shape")
        precondition(classes > 0, "Dataset \(name): needs at least one class")
        precondition(
            images.count == labels.count * channels * height * width,
            "Dataset \(name): \(images.count) floats for \(labels.count) samples of \(channels)×\(height)×\(width)")
        self.name = name
        self.channels = channels
        self.height = height
        self.width = width
        self.classes = classes
        self.storage = .images(images, labels: labels)
        self.count = labels.count
        self.labelsPerSample = 1
    }

    /// A text dataset: samples of shape [1, 1, T] (token ids as floats), T labels each, over a
    /// vocabulary of `windows.vocabulary.count` classes.
    public init(name: String, windows: TokenWindows) {
        self.name = name
        channels = 1
        height = 1
        width = windows.contextLength
        classes = windows.vocabulary.count
        storage = .tokens(windows)
        count = windows.count
        labelsPerSample = windows.contextLength
    }

    /// The normalized images (empty for text).
    public var images: [Float] {
        if case .images(let images, _) = storage { return images }
        return []
    }

    /// One class per image (empty for text, whose labels are the next tokens).
    public var labels: [Int32] {
        if case .images(_, let labels) = storage { return labels }
        return []
    }

    /// The token windows of a text dataset, nil for images.
    public var tokens: TokenWindows? {
        if case .tokens(let windows) = storage { return windows }
        return nil
    }

    /// The bytes token ids stand for (id i is byte `vocabulary[i]`); empty for images.
    public var vocabulary: [UInt8] { tokens?.vocabulary ?? [] }
}

/// The train and test splits of one dataset, both normalized with the training set's
/// statistics (so evaluation sees the same input distribution as training). Text is not
/// normalized: its `normalization` has no channels.
public struct DataSplit: Sendable {
    public let train: Dataset
    public let test: Dataset
    public let normalization: Normalization

    public init(train: Dataset, test: Dataset, normalization: Normalization) {
        precondition(
            train.channels == test.channels && train.height == test.height && train.width == test.width
                && train.classes == test.classes && train.labelsPerSample == test.labelsPerSample,
            "DataSplit: train and test shapes differ")
        self.train = train
        self.test = test
        self.normalization = normalization
    }
}

/// Images as read from disk, before normalization: 8-bit pixels, sample-major, C, H, W order.
struct RawImages {
    var channels: Int
    var height: Int
    var width: Int
    var pixels: [UInt8]
    var labels: [Int32]

    var count: Int { labels.count }
    var sampleSize: Int { channels * height * width }
}
