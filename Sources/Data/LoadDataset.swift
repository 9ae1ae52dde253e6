/// Loads the train and test splits of `kind` and normalizes both with the training set's
/// per-channel statistics (the study's "standard channel normalization", §3).
///
/// `directory` overrides the kind's default directory (`--data-dir`); for `.synthetic` it
/// is ignored and `synthetic` describes the data. Files may be plain or gzip-compressed
/// (`name` or `name.gz`; what `gzip -t` accepts, see `GzipInflater`). Every problem with the
/// files is a `DataError` naming the path, and so is a split without samples.
///
/// `.text` reads `directory` (a file or a directory of text files; see `TextCorpus`) into
/// windows of `contextLength` tokens (`loadText`), unnormalized.
public func loadDataset(
    _ kind: DatasetKind, directory: String?, synthetic: SyntheticConfig = .init(), contextLength: Int = 64
) throws -> DataSplit {
    if kind == .text {
        return try loadText(path: directory ?? kind.defaultDirectory!, contextLength: contextLength)
    }
    let raw: (train: RawImages, test: RawImages)
    let classes: Int
    switch kind {
    case .text:
        preconditionFailure("text is loaded above")
    case .synthetic:
        raw = try SyntheticDataset.make(synthetic)
        classes = synthetic.classes
    case .mnist, .fashionMNIST:
        classes = 10
        raw = try loadIDX(kind, directory: try dataDirectory(kind, directory))
    case .cifar10, .cifar100:
        let layout = CIFARReader.layout(kind)
        classes = layout.classes
        raw = try loadCIFAR(kind, layout: layout, directory: try dataDirectory(kind, directory))
    }
    let normalization = Normalization(statisticsOf: raw.train)
    func dataset(_ images: RawImages, _ split: String) -> Dataset {
        Dataset(name: "\(kind.rawValue)-\(split)", channels: images.channels, height: images.height,
                width: images.width, classes: classes, images: normalization.apply(to: images),
                labels: images.labels)
    }
    return DataSplit(train: dataset(raw.train, "train"), test: dataset(raw.test, "test"),
                     normalization: normalization)
}

/// The directory to read `kind` from: the one given, else the default, which must exist.
private func dataDirectory(_ kind: DatasetKind, _ given: String?) throws -> String {
    guard let directory = given ?? kind.defaultDirectory else {
        throw DataError("\(kind.displayName) has no default location; \(kind.installHint).")
    }
    guard DataFiles.isDirectory(directory) else {
        throw DataError("\(kind.displayName) directory \(directory) does not exist; \(kind.installHint).")
    }
    return directory
}

/// The path of `name` (or `name.gz`) in `directory`, or an error saying how to get it.
private func requireFile(_ name: String, in directory: String, kind: DatasetKind) throws -> String {
    guard let path = DataFiles.existing(name, in: directory) else {
        throw DataError(
            "\(kind.displayName) file \(name) (or \(name).gz) is missing from \(directory); \(kind.installHint).")
    }
    return path
}

/// Refuses a split without samples: training would have nothing to learn from, and evaluation
/// would divide by zero and report NaN.
private func requireSamples(_ raw: RawImages, split: String, files: [String]) throws {
    guard raw.count == 0 else { return }
    let holders = files.count == 1 ? "\(files[0]) holds" : "\(files.joined(separator: ", ")) hold"
    throw DataError("the \(split) split is empty: \(holders) no samples.")
}

private func loadIDX(_ kind: DatasetKind, directory: String) throws -> (train: RawImages, test: RawImages) {
    func split(_ prefix: String, _ name: String) throws -> RawImages {
        let images = try requireFile("\(prefix)-images-idx3-ubyte", in: directory, kind: kind)
        let raw = try IDXReader.read(images: images, labels: requireFile("\(prefix)-labels-idx1-ubyte", in: directory, kind: kind),
                                     classes: 10)
        try requireSamples(raw, split: name, files: [images])
        return raw
    }
    let train = try split("train", "training")
    let test = try split("t10k", "test")
    guard train.height == test.height && train.width == test.width else {
        throw DataError(
            "\(kind.displayName) in \(directory): training images are \(train.height)×\(train.width) "
                + "but test images are \(test.height)×\(test.width); both splits must have the same size.")
    }
    return (train, test)
}

private func loadCIFAR(
    _ kind: DatasetKind, layout: CIFARReader.Layout, directory: String
) throws -> (train: RawImages, test: RawImages) {
    // The archive unpacks into a subfolder; accept the files there or directly in `directory`.
    let nested = directory + "/" + layout.subfolder
    let base = DataFiles.existing(layout.train[0], in: directory) == nil && DataFiles.isDirectory(nested)
        ? nested : directory
    func split(_ names: [String], _ name: String) throws -> RawImages {
        let files = try names.map { try requireFile($0, in: base, kind: kind) }
        let raw = try CIFARReader.read(files, layout: layout)
        try requireSamples(raw, split: name, files: files)
        return raw
    }
    return (try split(layout.train, "training"), try split(layout.test, "test"))
}
