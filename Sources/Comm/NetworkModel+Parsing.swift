import Foundation

/// The string form of a network model, used by the `--network` flag, run files and
/// `description`:
///
///     MODEL := LINK [",nodes-of=" W ",intra=" LINK] [",overhead=" DURATION] [",efficiency=" FRACTION]
///     LINK  := PRESET | BANDWIDTH [":" LATENCY]
///
/// - BANDWIDTH is a number and a unit: `bit`, `b` or `bps` are bits per second and `B`, `byte`
///   or `Bps` bytes per second, after an optional decimal prefix `k`, `m`/`M`, `g`/`G`, `t`/`T`
///   and an optional `/s`: `10gbit`, `10Gb/s` and `10gbps` are 10⁹·10 bits/s; `25GB/s` and
///   `25gbyte` are 25·10⁹ bytes/s. The prefix is case-insensitive (`mbit` is megabits); the
///   single letter `b`/`B` is not: lower case is bits, upper case bytes.
/// - LATENCY and DURATION are a number and one of `ns`, `us` (or `µs`), `ms`, `s`, or a bare `0`;
///   an omitted latency is zero.
/// - `overhead=DURATION` is `NetworkModel.overhead`, seconds added to every collective
///   (default 0); `efficiency=FRACTION` is `NetworkModel.efficiency`, the achieved fraction of
///   every link's rate, a number in (0, 1] (default 1).
/// - PRESET names a typical link (rough public figures, see `presets`).
/// - The first LINK is the link between nodes (or between all workers); `nodes-of=W` puts W
///   consecutive workers on each node and `intra=LINK` is the link inside a node, and these two
///   need each other. The options may come in any order.
extension NetworkModel: CustomStringConvertible, LosslessStringConvertible {
    /// Typical links by name; rough round figures for modelling, not measurements.
    public static let presets: [(name: String, link: Link)] = [
        ("ethernet-1g", Link(latency: 100e-6, bandwidth: 1e9 / 8)),
        ("ethernet-10g", Link(latency: 50e-6, bandwidth: 10e9 / 8)),
        ("ethernet-25g", Link(latency: 25e-6, bandwidth: 25e9 / 8)),
        ("ethernet-100g", Link(latency: 10e-6, bandwidth: 100e9 / 8)),
        ("infiniband-100g", Link(latency: 2e-6, bandwidth: 100e9 / 8)),
        ("infiniband-200g", Link(latency: 2e-6, bandwidth: 200e9 / 8)),
        ("nvlink", Link(latency: 5e-6, bandwidth: 300e9)),
    ]

    /// Parses the string form above; throws a `CommError` naming the part that is wrong.
    public init(parsing text: String) throws {
        func fail(_ problem: String) -> CommError {
            CommError("Cannot parse network \"\(text)\": \(problem).")
        }
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = items.first, !first.isEmpty else {
            throw fail("expected BANDWIDTH[:LATENCY] such as 10gbit:50us, or a preset (\(Self.presetNames))")
        }
        let interNode = try Self.parseLink(first, fail)
        var workersPerNode: Int?
        var intraNode: Link?
        var overhead: Double?
        var efficiency: Double?
        for item in items.dropFirst() {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            switch (parts.first?.lowercased(), parts.count) {
            case ("nodes-of", 2):
                guard workersPerNode == nil else { throw fail("nodes-of is given twice") }
                guard let w = Int(parts[1]), w >= 1 else {
                    throw fail("nodes-of=\(parts[1]) is not a positive whole number of workers per node")
                }
                workersPerNode = w
            case ("intra", 2):
                guard intraNode == nil else { throw fail("intra is given twice") }
                intraNode = try Self.parseLink(parts[1], fail)
            case ("overhead", 2):
                guard overhead == nil else { throw fail("overhead is given twice") }
                overhead = try Self.parseDuration(parts[1], what: "overhead", fail)
            case ("efficiency", 2):
                guard efficiency == nil else { throw fail("efficiency is given twice") }
                guard let e = Double(parts[1]), e > 0, e <= 1 else {
                    throw fail("efficiency=\(parts[1]) is not a fraction of the link rate in (0, 1], e.g. efficiency=0.8")
                }
                efficiency = e
            default:
                throw fail("unknown option \"\(item)\"; expected nodes-of=W, intra=LINK, overhead=DURATION or efficiency=FRACTION after the first link")
            }
        }
        let o = overhead ?? 0, e = efficiency ?? 1
        switch (workersPerNode, intraNode) {
        case (nil, nil):
            self.init(interNode: interNode, overhead: o, efficiency: e)
        case let (w?, link?):
            self.init(interNode: interNode, nodes: Nodes(workersPerNode: w, intraNode: link), overhead: o, efficiency: e)
        case (_?, nil):
            throw fail("nodes-of needs intra=LINK, the link inside a node")
        case (nil, _?):
            throw fail("intra needs nodes-of=W, the number of workers per node")
        }
    }

    public init?(_ description: String) {
        guard let model = try? NetworkModel(parsing: description) else { return nil }
        self = model
    }

    /// The canonical string form; `NetworkModel(parsing: m.description) == m` exactly.
    public var description: String {
        var text = Self.format(interNode)
        if let nodes {
            text += ",nodes-of=\(nodes.workersPerNode),intra=\(Self.format(nodes.intraNode))"
        }
        if overhead != 0 { text += ",overhead=" + Self.formatDuration(overhead) }
        if efficiency != 1 { text += ",efficiency=\(efficiency)" }  // Double's description round-trips
        return text
    }

    private static var presetNames: String { presets.map(\.name).joined(separator: ", ") }

    private static func parseLink(_ text: String, _ fail: (String) -> CommError) throws -> Link {
        if let preset = presets.first(where: { $0.name == text.lowercased() }) { return preset.link }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count <= 2 else {
            throw fail("link \"\(text)\" has more than one ':'; expected BANDWIDTH[:LATENCY]")
        }
        let bandwidth = try parseBandwidth(parts[0], fail)
        let latency = parts.count == 2 ? try parseDuration(parts[1], what: "latency", fail) : 0
        return Link(latency: latency, bandwidth: bandwidth)
    }

    /// Splits "12.5e3gbit" into 12500 and "gbit".
    private static func splitNumber(_ text: String) -> (Double?, String) {
        let digits = text.prefix { "0123456789.eE+-".contains($0) }
        return (Double(digits), String(text.dropFirst(digits.count)))
    }

    private static func parseBandwidth(_ text: String, _ fail: (String) -> CommError) throws -> Double {
        let (number, unit) = splitNumber(text)
        guard let number else {
            throw fail("\"\(text)\" is neither a bandwidth such as 10gbit or 25GB/s nor a preset (\(presetNames))")
        }
        guard let (scale, isBits) = bandwidthUnit(unit) else {
            throw fail("bandwidth \"\(text)\" has unit \"\(unit)\"; expected bits per second (bit, b, bps) or bytes per second (B, byte, Bps), after k, m, g or t, e.g. 10gbit or 25GB/s")
        }
        let bytesPerSecond = number * scale / (isBits ? 8 : 1)
        guard bytesPerSecond > 0, bytesPerSecond.isFinite else {
            throw fail("bandwidth \"\(text)\" must be positive and finite")
        }
        return bytesPerSecond
    }

    /// The decimal scale of a bandwidth unit and whether it counts bits (else bytes).
    private static func bandwidthUnit(_ unit: String) -> (Double, Bool)? {
        var rest = Substring(unit)
        if rest.hasSuffix("/s") { rest = rest.dropLast(2) } else if rest.hasSuffix("ps") { rest = rest.dropLast(2) }
        let lower = rest.lowercased()
        let isBits: Bool
        if lower.hasSuffix("bits") || lower.hasSuffix("bit") {
            isBits = true
            rest = rest.dropLast(lower.hasSuffix("bits") ? 4 : 3)
        } else if lower.hasSuffix("bytes") || lower.hasSuffix("byte") {
            isBits = false
            rest = rest.dropLast(lower.hasSuffix("bytes") ? 5 : 4)
        } else if rest.last == "b" || rest.last == "B" {
            isBits = rest.last == "b"
            rest = rest.dropLast()
        } else {
            return nil
        }
        let prefixes: [String: Double] = ["": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12]
        guard let scale = prefixes[rest.lowercased()] else { return nil }
        return (scale, isBits)
    }

    private static let latencyUnits: [(name: String, perSecond: Double)] = [
        ("us", 1e6), ("ms", 1e3), ("s", 1), ("ns", 1e9), ("µs", 1e6), ("μs", 1e6),
    ]

    /// A latency or overhead: a number and a unit of time; `what` names it in errors.
    private static func parseDuration(_ text: String, what: String, _ fail: (String) -> CommError) throws -> Double {
        let (number, unit) = splitNumber(text)
        if number == 0 && unit.isEmpty { return 0 }  // zero needs no unit
        guard let number, let perSecond = latencyUnits.first(where: { $0.name == unit.lowercased() })?.perSecond else {
            throw fail("\(what) \"\(text)\" is not a number with a unit; expected ns, us, ms or s, e.g. 50us")
        }
        let seconds = number / perSecond  // dividing keeps 50us == 50e-6 exactly
        guard seconds >= 0, seconds.isFinite else {
            throw fail("\(what) \"\(text)\" must be non-negative and finite")
        }
        return seconds
    }

    private static func format(_ link: Link) -> String {
        // Of the spellings that parse back to exactly the same value, the shortest wins.
        let bandwidths: [(String, Double, Bool)] = [
            ("gbit", 1e9, true), ("mbit", 1e6, true), ("GB/s", 1e9, false), ("MB/s", 1e6, false),
            ("tbit", 1e12, true), ("kbit", 1e3, true), ("bit", 1, true), ("B/s", 1, false),
        ]
        let bandwidth = shortest(bandwidths.map { unit, scale, isBits in
            let number = formatNumber((isBits ? link.bandwidth * 8 : link.bandwidth) / scale)
            let exact = Double(number).map { $0 * scale / (isBits ? 8 : 1) == link.bandwidth } ?? false
            return exact ? number + unit : nil
        }) ?? "\(link.bandwidth)B/s"
        guard link.latency != 0 else { return bandwidth }
        return bandwidth + ":" + formatDuration(link.latency)
    }

    private static func formatDuration(_ seconds: Double) -> String {
        shortest(latencyUnits.prefix(4).map { unit, perSecond in
            let number = formatNumber(seconds * perSecond)
            return Double(number).map { $0 / perSecond == seconds } ?? false ? number + unit : nil
        }) ?? "\(seconds)s"
    }

    private static func shortest(_ candidates: [String?]) -> String? {
        candidates.compactMap { $0 }.min { $0.count < $1.count }  // first of equals wins
    }

    private static func formatNumber(_ x: Double) -> String {
        if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        return "\(x)"
    }
}
