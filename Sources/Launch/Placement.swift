import Foundation

/// A host of a launched job and how many ranks it holds (Open MPI's slots).
public struct HostSlots: Equatable, Sendable {
    public var name: String
    public var slots: Int

    public init(name: String, slots: Int) {
        self.name = name
        self.slots = slots
    }

    /// "name:slots", as `mpirun --host` takes it.
    public var spec: String { "\(name):\(slots)" }
}

/// A user-facing problem with the launch settings, as one sentence.
public struct LaunchError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Where the ranks of a job run: on this machine (`--np N`), or on hosts with slots given as a
/// list (`--host a:2,b:2`) or in an Open MPI hostfile (`--hostfile FILE`). mpirun places ranks
/// by slot: the first host's slots fill first, then the next host's.
public struct Placement: Equatable, Sendable {
    public enum Source: Equatable, Sendable {
        case local
        case hostList
        case hostfile(String)
    }

    public var source: Source
    /// The hosts in mpirun's order; for `.local` one host, "localhost", with the job's ranks as slots.
    public var hosts: [HostSlots]

    public init(source: Source, hosts: [HostSlots]) {
        self.source = source
        self.hosts = hosts
    }

    /// This machine only, `ranks` ranks.
    public static func local(ranks: Int) -> Placement { Placement(source: .local, hosts: [HostSlots(name: "localhost", slots: ranks)]) }

    public var isLocal: Bool { source == .local }
    public var slots: Int { hosts.reduce(0) { $0 + $1.slots } }

    /// `--host a:2,b,c:4`: names with optional slot counts (1 when left out, as mpirun counts them).
    public static func parseHostList(_ text: String) throws -> [HostSlots] {
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        return try items.map { item in
            let parts = item.split(separator: ":", omittingEmptySubsequences: false)
            guard let name = parts.first, !name.isEmpty, parts.count <= 2 else {
                throw LaunchError("--host takes host names with optional slot counts, e.g. a:2,b:2, got '\(text)'")
            }
            guard parts.count == 2 else { return HostSlots(name: String(name), slots: 1) }
            guard let slots = Int(parts[1]), slots >= 1 else {
                throw LaunchError("--host: the slots of \(name) must be a positive number, got '\(parts[1])'")
            }
            return HostSlots(name: String(name), slots: slots)
        }
    }

    /// An Open MPI hostfile: one host per line, `name [slots=N] [max_slots=M]`, `#` comments.
    /// A host without `slots=` counts one slot; a host listed twice adds its slots.
    public static func parseHostfile(_ contents: String, path: String) throws -> [HostSlots] {
        var hosts: [HostSlots] = []
        for (number, raw) in contents.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard let name = words.first else { continue }
            var slots = 1
            for word in words.dropFirst() {
                let pair = word.split(separator: "=", maxSplits: 1)
                guard pair.count == 2 else {
                    throw LaunchError("\(path) line \(number + 1): expected 'host slots=N', got '\(line.trimmingCharacters(in: .whitespaces))'")
                }
                if pair[0] == "slots" {
                    guard let n = Int(pair[1]), n >= 1 else {
                        throw LaunchError("\(path) line \(number + 1): slots must be a positive number, got '\(pair[1])'")
                    }
                    slots = n
                }
            }
            if let i = hosts.firstIndex(where: { $0.name == name }) { hosts[i].slots += slots } else { hosts.append(HostSlots(name: String(name), slots: slots)) }
        }
        guard !hosts.isEmpty else { throw LaunchError("\(path) lists no host") }
        return hosts
    }

    /// mpirun's placement arguments for `ranks` ranks on `usable` (a subset of `hosts`, in order).
    /// With every host usable the hostfile or list is passed through as given; otherwise the
    /// usable hosts go to `--host`. On this machine alone, more ranks than cores are allowed.
    public func mpirunArguments(ranks: Int, on usable: [HostSlots]) -> [String] {
        switch source {
        case .local:
            return ["-np", String(ranks), "--oversubscribe"]
        case .hostfile(let path) where usable == hosts:
            return ["-np", String(ranks), "--hostfile", path]
        case .hostList, .hostfile:
            return ["-np", String(ranks), "--host", usable.map(\.spec).joined(separator: ",")]
        }
    }

    /// mpirun's arguments (before the command) that start one process on `host`.
    public func probeArguments(_ host: HostSlots) -> [String] {
        isLocal ? ["-np", "1"] : ["-np", "1", "--host", host.name + ":1"]
    }

    /// The host of rank `rank` when `ranks` ranks fill `usable` slot by slot; nil on this machine
    /// alone or past the slots.
    public static func host(ofRank rank: Int, on usable: [HostSlots]) -> String? {
        var first = 0
        for host in usable {
            if rank < first + host.slots { return host.name }
            first += host.slots
        }
        return nil
    }

    /// The ranks `usable` hosts can hold for a job of at most `requested` ranks: all of them when
    /// every host is usable (however the first job placed them), else the usable hosts' slots.
    public func capacity(of usable: [HostSlots], requested: Int) -> Int {
        usable == hosts ? requested : min(requested, usable.reduce(0) { $0 + $1.slots })
    }
}
