/// Reader for the "binary version" of CIFAR-10 and CIFAR-100 (Krizhevsky 2009), the
/// laptop-sized stand-ins for the study's ImageNet (§3). A CIFAR-10 record is 1 label byte + 3072 pixel
/// bytes; a CIFAR-100 record is a coarse and a fine label byte + 3072 pixel bytes (the fine
/// label, 100 classes, is used). Pixels are 3 planes of 32×32, i.e. already C, H, W.
enum CIFARReader {
    static let channels = 3
    static let side = 32
    static let pixelBytes = 3 * 32 * 32

    /// File names of the train and test splits and the standard folder they unpack into.
    struct Layout {
        var train: [String]
        var test: [String]
        var subfolder: String
        var labelBytes: Int
        var classes: Int
    }

    static func layout(_ kind: DatasetKind) -> Layout {
        switch kind {
        case .cifar100:
            return Layout(train: ["train.bin"], test: ["test.bin"], subfolder: "cifar-100-binary",
                          labelBytes: 2, classes: 100)
        default:
            return Layout(train: (1...5).map { "data_batch_\($0).bin" }, test: ["test_batch.bin"],
                          subfolder: "cifar-10-batches-bin", labelBytes: 1, classes: 10)
        }
    }

    /// Reads and concatenates the record files at `paths`.
    static func read(_ paths: [String], layout: Layout) throws -> RawImages {
        var raw = RawImages(channels: channels, height: side, width: side, pixels: [], labels: [])
        for path in paths {
            try append(DataFileReader(path: path), layout: layout, to: &raw)
        }
        return raw
    }

    /// Records read per chunk: labels are checked chunk by chunk, so a file that is not CIFAR
    /// stops being read (and inflated) at its first chunk.
    static let recordsPerChunk = 256

    /// Appends the records of `file`, checking each label as it comes.
    static func append(_ file: DataFileReader, layout: Layout, to raw: inout RawImages) throws {
        let path = file.path, recordSize = layout.labelBytes + pixelBytes
        if !file.isCompressed {
            raw.pixels.reserveCapacity(raw.pixels.count + file.fileSize / recordSize * pixelBytes)
            raw.labels.reserveCapacity(raw.labels.count + file.fileSize / recordSize)
        }
        var records = 0
        while true {
            let bytes = try file.read(recordsPerChunk * recordSize)
            let whole = bytes.count / recordSize
            for r in 0..<whole {
                let start = r * recordSize
                let label = Int(bytes[start + layout.labelBytes - 1])
                guard label < layout.classes else {
                    throw DataError(
                        "\(path): record \(records + r) has label \(label), outside the \(layout.classes) classes 0..<\(layout.classes).")
                }
                raw.labels.append(Int32(label))
                raw.pixels.append(contentsOf: bytes[(start + layout.labelBytes)..<(start + recordSize)])
            }
            records += whole
            guard bytes.count % recordSize == 0 else {
                let total = records * recordSize + bytes.count % recordSize
                throw DataError(
                    "\(path) is truncated: \(total) bytes is not a whole number of \(recordSize)-byte records "
                        + "(\(records) full records and \(bytes.count % recordSize) bytes left over).")
            }
            if bytes.count < recordsPerChunk * recordSize { return }
        }
    }
}
