/// Loads the train and test splits of `kind` and normalizes both with the training set's
/// per-channel statistics (the study's "standard channel normalization", §3).
///
/// `directory` overrides the kind's default directory (`--data-dir`); for `.synthetic` it
/// is ignored and `synthetic` describes the data. Files may be plain or gzip-compressed
/// (`name` or `name.gz`). Every problem with the files is a `DataError` naming the path.
public func loadDataset(_ kind: DatasetKind, directory: String?, synthetic: SyntheticConfig = .init()) throws -> DataSplit {
    let raw: (train: RawImages, test: RawImages)
    let classes: Int
    switch kind {
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
    guard raw.train.count > 0 else {
        throw DataError("the \(kind.displayName) training set is empty; there is nothing to train on.")
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
    guard FileBytes.isDirectory(directory) else {
        throw DataError("\(kind.displayName) directory \(directory) does not exist; \(kind.installHint).")
    }
    return directory
}

/// The path of `name` (or `name.gz`) in `directory`, or an error saying how to get it.
private func requireFile(_ name: String, in directory: String, kind: DatasetKind) throws -> String {
    guard let path = FileBytes.existing(name, in: directory) else {
        throw DataError(
            "\(kind.displayName) file \(name) (or \(name).gz) is missing from \(directory); \(kind.installHint).")
    }
    return path
}

private func loadIDX(_ kind: DatasetKind, directory: String) throws -> (train: RawImages, test: RawImages) {
    func split(_ prefix: String) throws -> RawImages {
        try IDXReader.read(
            images: requireFile("\(prefix)-images-idx3-ubyte", in: directory, kind: kind),
            labels: requireFile("\(prefix)-labels-idx1-ubyte", in: directory, kind: kind),
            classes: 10)
    }
    let train = try split("train")
    let test = try split("t10k")
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
    let base = FileBytes.existing(layout.train[0], in: directory) == nil && FileBytes.isDirectory(nested)
        ? nested : directory
    let train = try CIFARReader.read(layout.train.map { try requireFile($0, in: base, kind: kind) }, layout: layout)
    let test = try CIFARReader.read(layout.test.map { try requireFile($0, in: base, kind: kind) }, layout: layout)
    return (train, test)
}
