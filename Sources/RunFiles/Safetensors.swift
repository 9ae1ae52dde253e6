import Foundation

// Tensor bytes are copied with memcpy, which is only the file's little-endian layout on a
// little-endian host (x86-64, arm64).
#if !_endian(little)
#error("Safetensors.swift assumes a little-endian host")
#endif

/// One named tensor of a safetensors file: raw little-endian bytes plus dtype and shape.
public struct SafetensorsTensor: Equatable {
    public var name: String
    /// "F32" or "I64".
    public var dtype: String
    public var shape: [Int]
    /// Exactly `shape.product × bytes per element` bytes.
    public var data: Data

    public init(name: String, dtype: String, shape: [Int], data: Data) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.data = data
    }
}

/// A malformed safetensors file or tensor list; the description is one sentence naming the file
/// (or tensor) and what was expected.
public struct SafetensorsError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension SafetensorsError: LocalizedError {
    public var errorDescription: String? { description }
}

/// The safetensors checkpoint format that PyTorch and NumPy load: an 8-byte little-endian header length N, N bytes of JSON header padded with spaces
/// to a multiple of 8, then the tensors' bytes back to back, with `data_offsets` relative to the
/// start of the data. Writing is one memcpy per tensor, so a 25 M-float checkpoint is cheap.
public enum Safetensors {
    /// Bytes per element of each supported dtype.
    public static let elementSizes: [String: Int] = ["F32": 4, "I64": 8]

    /// The file's bytes: header (metadata first, its keys sorted, then tensors in the given
    /// order) and data without gaps.
    public static func encode(_ tensors: [SafetensorsTensor], metadata: [String: String] = [:]) throws -> Data {
        var names = Set<String>()
        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            entries.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for tensor in tensors {
            guard tensor.name != "__metadata__" else {
                throw SafetensorsError("tensor name '__metadata__' is reserved for the header's metadata.")
            }
            guard names.insert(tensor.name).inserted else {
                throw SafetensorsError("tensor name '\(tensor.name)' appears twice; names must be unique.")
            }
            let (expected, problem) = byteCount(dtype: tensor.dtype, shape: tensor.shape)
            if let problem { throw SafetensorsError("tensor '\(tensor.name)': \(problem).") }
            guard tensor.data.count == expected else {
                throw SafetensorsError("tensor '\(tensor.name)' has \(tensor.data.count) bytes of data; "
                    + "shape \(tensor.shape) of \(tensor.dtype) needs \(expected).")
            }
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            entries.append("\(jsonString(tensor.name)):{\"dtype\":\(jsonString(tensor.dtype)),"
                + "\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + expected)]}")
            offset += expected
        }
        var header = Data("{\(entries.joined(separator: ","))}".utf8)
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))

        var file = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(header)
        for tensor in tensors { file.append(tensor.data) }
        return file
    }

    /// Encodes and writes atomically (`AtomicFile`): a crash never leaves a torn checkpoint.
    public static func write(_ tensors: [SafetensorsTensor], metadata: [String: String] = [:], to path: String) throws {
        try AtomicFile.write(encode(tensors, metadata: metadata), to: path)
    }

    /// Reads and validates a whole file; every tensor's bytes are checked against its shape and
    /// the offsets must tile the data exactly (as the reference implementation requires).
    public static func read(path: String) throws -> (tensors: [String: SafetensorsTensor], metadata: [String: String]) {
        try decode(AtomicFile.read(path), file: path)
    }

    /// Parses the bytes of a safetensors file; `file` names it in errors.
    public static func decode(_ bytes: Data, file: String) throws -> (tensors: [String: SafetensorsTensor], metadata: [String: String]) {
        func fail(_ message: String) -> SafetensorsError { SafetensorsError("safetensors file '\(file)': \(message).") }
        guard bytes.count >= 8 else { throw fail("is \(bytes.count) bytes long, shorter than the 8-byte header length") }
        let start = bytes.startIndex
        let length = bytes[start..<start + 8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard length <= UInt64(bytes.count - 8) else {
            throw fail("header length \(length) goes beyond the file size \(bytes.count)")
        }
        let headerBytes = bytes[start + 8..<start + 8 + Int(length)]
        let dataStart = start + 8 + Int(length)
        let dataCount = bytes.count - 8 - Int(length)
        guard let json = try? JSONSerialization.jsonObject(with: headerBytes), let header = json as? [String: Any] else {
            throw fail("header is not a JSON object")
        }
        if let name = duplicateKey(in: headerBytes) { throw fail("header names '\(name)' twice") }

        let metadata = try parseMetadata(header["__metadata__"], fail: fail)
        var tensors: [String: SafetensorsTensor] = [:]
        var ranges: [(range: Range<Int>, name: String)] = []
        for (name, raw) in header where name != "__metadata__" {
            let (dtype, shape, range) = try parseEntry(name, raw, dataCount: dataCount, fail: fail)
            ranges.append((range, name))
            let data = bytes.subdata(in: dataStart + range.lowerBound..<dataStart + range.upperBound)
            tensors[name] = SafetensorsTensor(name: name, dtype: dtype, shape: shape, data: data)
        }
        try checkTiling(ranges, dataCount: dataCount, fail: fail)
        return (tensors, metadata)
    }

    private static func parseMetadata(_ raw: Any?, fail: (String) -> SafetensorsError) throws -> [String: String] {
        guard let raw else { return [:] }
        guard let object = raw as? [String: Any] else { throw fail("'__metadata__' is not an object of strings") }
        var metadata: [String: String] = [:]
        for (key, value) in object {
            guard let string = value as? String else { throw fail("metadata '\(key)' is not a string") }
            metadata[key] = string
        }
        return metadata
    }

    /// One header entry checked against itself and the data size.
    private static func parseEntry(_ name: String, _ raw: Any, dataCount: Int, fail: (String) -> SafetensorsError)
        throws -> (dtype: String, shape: [Int], range: Range<Int>) {
        guard let entry = raw as? [String: Any] else { throw fail("tensor '\(name)' is not an object") }
        guard let dtype = entry["dtype"] as? String else { throw fail("tensor '\(name)' has no string 'dtype'") }
        guard let shape = intList(entry["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
            throw fail("tensor '\(name)' has no 'shape' list of non-negative integers")
        }
        guard let offsets = intList(entry["data_offsets"]), offsets.count == 2 else {
            throw fail("tensor '\(name)' has no 'data_offsets' pair of integers")
        }
        let (size, problem) = byteCount(dtype: dtype, shape: shape)
        if let problem { throw fail("tensor '\(name)': \(problem)") }
        let (begin, end) = (offsets[0], offsets[1])
        guard 0 <= begin, begin <= end, end <= dataCount else {
            throw fail("tensor '\(name)' has data_offsets [\(begin), \(end)] outside the \(dataCount) data bytes")
        }
        guard end - begin == size else {
            throw fail("tensor '\(name)' has \(end - begin) bytes but shape \(shape) of \(dtype) needs \(size)")
        }
        return (dtype, shape, begin..<end)
    }

    // MARK: Float and Int64 helpers

    /// The little-endian bytes of `count` floats (one memcpy).
    public static func floats(_ values: UnsafePointer<Float>, count: Int) -> Data {
        Data(bytes: values, count: count * MemoryLayout<Float>.size)
    }

    /// The values of an F32 tensor.
    public static func floatArray(_ tensor: SafetensorsTensor) throws -> [Float] {
        let count = try elementCount(tensor, dtype: "F32")
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            _ = tensor.data.copyBytes(to: buffer)  // returns bytes, not elements
            initialized = count
        }
    }

    /// Copies an F32 tensor of exactly `count` elements into `destination` (e.g. a slot of a
    /// flat parameter buffer) without an intermediate array.
    public static func copyFloats(_ tensor: SafetensorsTensor, to destination: UnsafeMutablePointer<Float>, count: Int) throws {
        let available = try elementCount(tensor, dtype: "F32")
        guard available == count else {
            throw SafetensorsError("tensor '\(tensor.name)' has \(available) elements; expected \(count).")
        }
        _ = tensor.data.copyBytes(to: UnsafeMutableBufferPointer(start: destination, count: count))
    }

    /// The little-endian bytes of Int64 values (one memcpy).
    public static func int64s(_ values: [Int64]) -> Data {
        values.withUnsafeBytes { Data($0) }
    }

    /// The values of an I64 tensor.
    public static func int64Array(_ tensor: SafetensorsTensor) throws -> [Int64] {
        let count = try elementCount(tensor, dtype: "I64")
        return [Int64](unsafeUninitializedCapacity: count) { buffer, initialized in
            _ = tensor.data.copyBytes(to: buffer)  // returns bytes, not elements
            initialized = count
        }
    }

    // MARK: Private

    private static func elementCount(_ tensor: SafetensorsTensor, dtype: String) throws -> Int {
        guard tensor.dtype == dtype else {
            throw SafetensorsError("tensor '\(tensor.name)' has dtype \(tensor.dtype); expected \(dtype).")
        }
        let (bytes, problem) = byteCount(dtype: dtype, shape: tensor.shape)
        if let problem { throw SafetensorsError("tensor '\(tensor.name)': \(problem).") }
        guard tensor.data.count == bytes else {
            throw SafetensorsError("tensor '\(tensor.name)' has \(tensor.data.count) bytes; shape \(tensor.shape) needs \(bytes).")
        }
        return bytes / elementSizes[dtype]!
    }

    /// Bytes needed for `shape` of `dtype`, or why there is no such size (unknown dtype,
    /// negative dimension, overflow).
    private static func byteCount(dtype: String, shape: [Int]) -> (bytes: Int, problem: String?) {
        guard let size = elementSizes[dtype] else { return (0, "unsupported dtype '\(dtype)' (supported: F32, I64)") }
        var total = size
        for dim in shape {
            guard dim >= 0 else { return (0, "shape \(shape) has a negative dimension") }
            let (product, overflow) = total.multipliedReportingOverflow(by: dim)
            guard !overflow else { return (0, "shape \(shape) is too large") }
            total = product
        }
        return (total, nil)
    }

    /// The reference implementation requires the tensors to cover the data exactly once.
    private static func checkTiling(_ ranges: [(range: Range<Int>, name: String)], dataCount: Int,
                                    fail: (String) -> SafetensorsError) throws {
        var position = 0
        var previous = "the start of the data"
        for (range, name) in ranges.sorted(by: { ($0.range.lowerBound, $0.range.upperBound) < ($1.range.lowerBound, $1.range.upperBound) }) {
            if range.lowerBound < position { throw fail("tensor '\(name)' overlaps '\(previous)'") }
            if range.lowerBound > position { throw fail("there is a gap of \(range.lowerBound - position) bytes before tensor '\(name)'") }
            position = range.upperBound
            previous = name
        }
        if position != dataCount { throw fail("\(dataCount - position) bytes after the last tensor belong to none") }
    }

    /// A list of integers from parsed JSON; nil if any item is not written as an integer.
    /// JSONSerialization gives NSNumbers, where `is Bool` holds for 0 and 1 and `as? Int`
    /// accepts 3.0 and true, so look at the number's type code ("c": boolean) and its text.
    private static func intList(_ value: Any?) -> [Int]? {
        guard let items = value as? [Any] else { return nil }
        var result: [Int] = []
        for item in items {
            guard let number = item as? NSNumber, String(cString: number.objCType) != "c",
                  let int = item as? Int, number.stringValue == String(int) else { return nil }
            result.append(int)
        }
        return result
    }

    /// The first top-level key that occurs twice. JSONSerialization keeps one silently, so scan
    /// the (already validated) header text for keys at depth 1.
    private static func duplicateKey(in header: Data) -> String? {
        var seen = Set<String>()
        var depth = 0, index = header.startIndex, expectKey = false
        while index < header.endIndex {
            let byte = header[index]
            switch byte {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1; expectKey = depth == 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
            case UInt8(ascii: ","):
                expectKey = depth == 1
            case UInt8(ascii: "\""):
                var end = index + 1
                while header[end] != UInt8(ascii: "\"") { end += header[end] == UInt8(ascii: "\\") ? 2 : 1 }
                if expectKey, depth == 1 {
                    let literal = header[index...end]
                    let key = (try? JSONSerialization.jsonObject(with: literal, options: .fragmentsAllowed)) as? String
                    if let key, !seen.insert(key).inserted { return key }
                    expectKey = false
                }
                index = end
            default: break
            }
            index += 1
        }
        return nil
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    private static func jsonString(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
