import Foundation

/// A plain-text corpus read as bytes, for a character-level language model: one file, or every
/// regular file under a directory, concatenated in path order.
///
/// In a directory, files ending in `.dat` (the fortunes package's binary indexes) and `.u8`
/// (its links to the same texts) are skipped; subdirectories are read (not through links),
/// symbolic links to files only when they lead to a regular file inside the directory that is
/// neither skipped nor read already.
public struct TextCorpus: Sendable {
    /// Every byte of the corpus, file after file.
    public let bytes: [UInt8]
    /// The files read, in the order their bytes appear.
    public let files: [String]

    /// Extensions skipped in a directory.
    static let skippedExtensions = [".dat", ".u8"]

    /// Reads `path` (a file or a directory). Errors: a missing path, a directory without a text
    /// file, an unreadable file, a corpus without bytes; each a `DataError` naming the path.
    public static func read(_ path: String) throws -> TextCorpus {
        let hint = DatasetKind.text.installHint
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DataError("the text corpus \(path) does not exist; \(hint).")
        }
        let files = isDirectory.boolValue ? try textFiles(in: path) : [path]
        guard !files.isEmpty else {
            throw DataError("the text corpus directory \(path) holds no readable text files (files ending in "
                + "\(skippedExtensions.joined(separator: " or ")) are skipped); \(hint).")
        }
        var bytes: [UInt8] = []
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw DataError("cannot read the text file \(file).")
            }
            bytes.append(contentsOf: data)
        }
        guard !bytes.isEmpty else {
            let holders = files.count == 1 ? "\(files[0]) is" : "the \(files.count) files in \(path) are"
            throw DataError("the text corpus is empty: \(holders) empty.")
        }
        return TextCorpus(bytes: bytes, files: files)
    }

    /// The text files under `directory`, sorted by path: regular files, and links to regular
    /// files inside it that nothing else read already reaches.
    static func textFiles(in given: String) throws -> [String] {
        let fm = FileManager.default
        // Absolute, so that links resolve to paths comparable with the root's.
        let directory = URL(fileURLWithPath: given).standardizedFileURL.path
        let root = realPath(directory) ?? directory
        var candidates: [String] = []
        var pending = [directory]
        while let folder = pending.popLast() {
            guard let names = try? fm.contentsOfDirectory(atPath: folder) else {
                throw DataError("cannot list the text corpus directory \(folder).")
            }
            for name in names where !isSkipped(name) {
                let path = (folder as NSString).appendingPathComponent(name)
                switch (try? fm.attributesOfItem(atPath: path))?[.type] as? FileAttributeType {
                case .typeDirectory?: pending.append(path)
                case .typeRegular?, .typeSymbolicLink?: candidates.append(path)
                default: continue
                }
            }
        }
        // Regular files first claim their real paths, so a link never displaces the file itself.
        var seen = Set<String>()
        var links: [(path: String, target: String)] = []
        for path in candidates {
            guard let target = realPath(path) else { continue }  // a dangling link
            if isLink(path) { links.append((path, target)) } else { seen.insert(target) }
        }
        var files = candidates.filter { !isLink($0) }
        for link in links.sorted(by: { $0.path < $1.path }) where !seen.contains(link.target) {
            var isDirectory: ObjCBool = false
            guard link.target.hasPrefix(root + "/"), !isSkipped(link.target),
                  fm.fileExists(atPath: link.target, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            seen.insert(link.target)
            files.append(link.path)
        }
        return files.sorted()
    }

    /// The canonical absolute path (every link resolved, relative ones from their own directory).
    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func isSkipped(_ name: String) -> Bool {
        skippedExtensions.contains { name.hasSuffix($0) }
    }

    private static func isLink(_ path: String) -> Bool {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType == .typeSymbolicLink
    }
}

/// Loads a text corpus as a character-level dataset (`--dataset text`): the vocabulary is the
/// sorted set of distinct bytes of the whole corpus, the last 10 % of the bytes (nanoGPT's split)
/// are the test split, windows are `contextLength` tokens (`TokenWindows`). Not normalized: the
/// inputs are token ids. Errors: those of `TextCorpus.read`, and a corpus too short for one
/// sample in each split (at least 10·T + 1 bytes).
func loadText(path: String, contextLength t: Int) throws -> DataSplit {
    precondition(t >= 1, "loadText: context length \(t) below 1")
    let corpus = try TextCorpus.read(path)
    let bytes = corpus.bytes
    let trainCount = bytes.count * 9 / 10
    let needed = [(trainCount, true), (bytes.count - trainCount, false)].contains {
        TokenWindows.sampleCount(tokens: $0.0, contextLength: t, randomShift: $0.1) == 0
    }
    guard !needed else {
        throw DataError(
            "the text corpus \(path) holds \(bytes.count) bytes, too few for --context-length \(t): its test split "
                + "(the last 10 %) needs at least \(t + 1) bytes and its training split \(2 * t), so the corpus at least "
                + "\(10 * t + 1); lower --context-length or add text.")
    }
    var present = [Bool](repeating: false, count: 256)
    for b in bytes { present[Int(b)] = true }
    let vocabulary = (0..<256).filter { present[$0] }.map(UInt8.init)
    guard vocabulary.count >= 2 else {
        throw DataError("the text corpus \(path) holds only one distinct character (byte \(vocabulary[0])): a language "
            + "model needs at least two to predict between.")
    }
    var idOf = [UInt8](repeating: 0, count: 256)
    for (id, byte) in vocabulary.enumerated() { idOf[Int(byte)] = UInt8(id) }
    let ids = bytes.map { idOf[Int($0)] }
    func split(_ range: Range<Int>, _ name: String, shift: Bool) -> Dataset {
        Dataset(name: "text-\(name)", windows: TokenWindows(ids: Array(ids[range]), contextLength: t, randomShift: shift,
                                                            vocabulary: vocabulary))
    }
    return DataSplit(train: split(0..<trainCount, "train", shift: true),
                     test: split(trainCount..<bytes.count, "test", shift: false),
                     normalization: Normalization(mean: [], std: []))
}
