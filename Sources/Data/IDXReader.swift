/// Reader for the IDX format of MNIST and Fashion-MNIST (LeCun et al.; big-endian header:
/// magic 0x00000803 for images [N, rows, cols] or 0x00000801 for labels [N], then unsigned
/// bytes). Every check throws a `DataError` naming the file.
enum IDXReader {
    static let imagesMagic: UInt32 = 0x0000_0803
    static let labelsMagic: UInt32 = 0x0000_0801

    /// Reads an image file and its label file into grayscale raw images.
    static func read(images imagesPath: String, labels labelsPath: String, classes: Int) throws -> RawImages {
        let (pixels, shape) = try readArray(imagesPath, magic: imagesMagic, kind: "image")
        let (labelBytes, labelShape) = try readArray(labelsPath, magic: labelsMagic, kind: "label")
        guard shape[0] == labelShape[0] else {
            throw DataError(
                "\(imagesPath) holds \(shape[0]) images but \(labelsPath) holds \(labelShape[0]) labels; "
                    + "the counts must agree.")
        }
        let labels = try checkedLabels(labelBytes, classes: classes, path: labelsPath)
        return RawImages(channels: 1, height: shape[1], width: shape[2], pixels: pixels, labels: labels)
    }

    /// Bytes a gzip file may inflate past the size its header declares, to tell "exactly that
    /// long" from "longer" and to report by how much when the surplus is small.
    static let surplusMargin = 1 << 16

    /// The payload and dimensions of an IDX file of unsigned bytes with the expected magic.
    static func readArray(_ path: String, magic expected: UInt32, kind: String) throws -> ([UInt8], [Int]) {
        try readArray(DataFileReader(path: path), magic: expected, kind: kind)
    }

    /// As `readArray(_:magic:kind:)` from an open reader: the header is checked before any of the
    /// payload is read, and a gzip file is inflated no further than the declared size plus
    /// `surplusMargin`.
    static func readArray(_ file: DataFileReader, magic expected: UInt32, kind: String) throws -> ([UInt8], [Int]) {
        let path = file.path
        let head = try file.read(4)
        guard head.count == 4 else {
            throw DataError("\(path) is truncated: \(head.count) bytes is too short for an IDX header.")
        }
        let magic = bigEndian32(head, at: 0)
        guard magic == expected else {
            throw DataError(
                "\(path) is not an IDX \(kind) file: magic number is 0x\(hex(magic)), expected 0x\(hex(expected)).")
        }
        let dimensions = Int(expected & 0xff)
        let headerSize = 4 + 4 * dimensions
        let extents = try file.read(4 * dimensions)
        guard extents.count == 4 * dimensions else {
            throw DataError(
                "\(path) is truncated: \(4 + extents.count) bytes is too short for its \(headerSize)-byte header.")
        }
        let shape = (0..<dimensions).map { Int(bigEndian32(extents, at: 4 * $0)) }
        if dimensions > 1, let zero = shape.dropFirst().firstIndex(of: 0) {
            throw DataError("\(path) declares dimension \(zero) of size 0; images must not be empty.")
        }
        // A corrupt header can declare more than Int can count; saturate so it reads as truncated.
        let expectedCount = shape.reduce(1) { product, extent in
            let (result, overflow) = product.multipliedReportingOverflow(by: extent)
            return overflow ? Int.max : result
        }
        guard expectedCount <= file.mostRemaining else {
            let found = file.isCompressed ? "a \(file.fileSize)-byte gzip file cannot hold that many" : "found \(file.mostRemaining)"
            throw DataError("\(path) is truncated: expected \(expectedCount) bytes of \(kind) data, \(found).")
        }
        let payload = try file.read(expectedCount)
        guard payload.count == expectedCount else {
            throw DataError("\(path) is truncated: expected \(expectedCount) bytes of \(kind) data, found \(payload.count).")
        }
        let surplus = try file.skipRest(upTo: surplusMargin)
        guard surplus == 0 else {
            let found = file.isCompressed && surplus == surplusMargin
                ? "more than \(expectedCount + surplus)" : "\(expectedCount + surplus)"
            throw DataError(
                "\(path) is longer than its header says: expected \(expectedCount) bytes of \(kind) data, found \(found).")
        }
        return (payload, shape)
    }

    /// Labels as Int32, each checked to be below `classes`.
    static func checkedLabels(_ bytes: [UInt8], classes: Int, path: String) throws -> [Int32] {
        if let index = bytes.firstIndex(where: { Int($0) >= classes }) {
            throw DataError(
                "\(path): label at index \(index) is \(bytes[index]), outside the \(classes) classes 0..<\(classes).")
        }
        return bytes.map { Int32($0) }
    }

    private static func bigEndian32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
            | UInt32(bytes[offset + 3])
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}
