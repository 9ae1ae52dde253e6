/// Training-time data augmentation. The study (§3, "Dataset") follows He et al.'s scheme; at
/// our image sizes that is He et al.'s CIFAR variant: a random crop of the image zero-padded
/// by `cropPadding` pixels on each side (4 for CIFAR), and a random horizontal flip with
/// probability 1/2. The default does neither.
///
/// Padding is zero in *normalized* space, i.e. the training-set mean colour, as He et al.
/// pad their mean-subtracted images.
public struct Augmentation: Codable, Equatable, Sendable {
    public var cropPadding: Int = 0
    public var horizontalFlip: Bool = false

    public init(cropPadding: Int = 0, horizontalFlip: Bool = false) {
        precondition(cropPadding >= 0, "Augmentation.cropPadding must be non-negative")
        self.cropPadding = cropPadding
        self.horizontalFlip = horizontalFlip
    }

    private enum CodingKeys: String, CodingKey { case cropPadding, horizontalFlip }

    /// Missing keys take their defaults; a negative padding is an error naming the field.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        cropPadding = try c.decodeIfPresent(Int.self, forKey: .cropPadding) ?? 0
        horizontalFlip = try c.decodeIfPresent(Bool.self, forKey: .horizontalFlip) ?? false
        guard cropPadding >= 0 else {
            throw DecodingError.dataCorruptedError(
                forKey: .cropPadding, in: c, debugDescription: "cropPadding is \(cropPadding); it must be at least 0.")
        }
    }

    /// True when samples are copied unchanged.
    public var isIdentity: Bool { cropPadding == 0 && !horizontalFlip }
}
