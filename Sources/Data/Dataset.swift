/// An in-memory, normalized image classification dataset: the 𝒟 = {(xᵢ, yᵢ)} that every
/// worker of Algorithm 2 reads its shard from, or the held-out set the study evaluates on (§3).
///
/// `images` is `count × sampleSize` floats, sample-major, each sample in C, H, W order;
/// `fillBatch` turns a set of samples into the `[C, N, H, W]` layout of the compute core.
public struct Dataset: Sendable {
    public let name: String
    public let channels: Int
    public let height: Int
    public let width: Int
    public let classes: Int
    public let images: [Float]
    public let labels: [Int32]

    public var count: Int { labels.count }
    public var sampleSize: Int { channels * height * width }

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
        self.images = images
        self.labels = labels
    }
}

/// The train and test splits of one dataset, both normalized with the training set's
/// statistics (so evaluation sees the same input distribution as training).
public struct DataSplit: Sendable {
    public let train: Dataset
    public let test: Dataset
    public let normalization: Normalization

    public init(train: Dataset, test: Dataset, normalization: Normalization) {
        precondition(
            train.channels == test.channels && train.height == test.height && train.width == test.width
                && train.classes == test.classes,
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
