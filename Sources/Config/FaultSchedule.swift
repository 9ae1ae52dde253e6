import Foundation

/// When workers leave and rejoin a simulated run (`--faults "leave:3@500,join:3@900"`).
///
/// `leave:k@s`: worker k takes part in iterations 0 ..< s and then stops: it computes nothing and
/// is part of no reduction. `join:k@s`: it takes part again from iteration s on (0-based
/// iterations; `s` may be written in epochs, `2e` = 2·S iterations, S the iterations per epoch).
/// A joiner starts from the present workers' weights (`Trainer`); its shard of the data is not
/// read while it is away (skipped, as on a real cluster, where nobody else holds those samples).
///
/// Written as text (the flag's and the config file's value); `init(parsing:workers:)` checks what
/// needs no data, `resolve(stepsPerEpoch:totalSteps:)` the rest once the iterations are known.
public struct FaultSchedule: Equatable, Sendable {
    /// A point of the run: an iteration, or an epoch boundary.
    public enum Point: Equatable, Sendable {
        case iteration(Int)
        case epoch(Int)

        public func iteration(stepsPerEpoch: Int) -> Int {
            switch self {
            case .iteration(let s): return s
            case .epoch(let e): return e * stepsPerEpoch
            }
        }
    }

    public struct Event: Equatable, Sendable {
        public var joins: Bool
        public var worker: Int
        public var point: Point
        /// The event as typed back, e.g. `leave:3@2e`.
        public var text: String {
            switch point {
            case .iteration(let s): return "\(joins ? "join" : "leave"):\(worker)@\(s)"
            case .epoch(let e): return "\(joins ? "join" : "leave"):\(worker)@\(e)e"
            }
        }
    }

    /// In the order given.
    public let events: [Event]

    /// Parses a comma list of `leave:k@s` and `join:k@s` (s an iteration, or `Ne` an epoch) for a
    /// run of K = `workers` workers. Throws `ConfigError` naming `--faults` for an unreadable
    /// event or a worker index not below K.
    public init(parsing text: String, workers: Int) throws {
        var events: [Event] = []
        for raw in text.split(separator: ",", omittingEmptySubsequences: false) {
            let item = raw.trimmingCharacters(in: .whitespaces)
            let form = "each event is leave:K@S or join:K@S (worker K, iteration S or epoch Se, e.g. leave:3@500,join:3@2e)"
            let parts = item.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[0] == "leave" || parts[0] == "join" else {
                throw ConfigError("--faults: '\(item)' is not an event; \(form)")
            }
            let at = parts[1].split(separator: "@", omittingEmptySubsequences: false).map(String.init)
            guard at.count == 2, let worker = Int(at[0]), worker >= 0 else {
                throw ConfigError("--faults: '\(item)' does not name a worker and a point; \(form)")
            }
            guard worker < workers else {
                throw ConfigError("--faults: '\(item)' names worker \(worker), but the workers are 0 to \(workers - 1) (--workers \(workers))")
            }
            let pointText = at[1]
            let point: Point
            if pointText.hasSuffix("e"), let e = Int(pointText.dropLast()), e >= 0, e <= 1_000_000 {
                point = .epoch(e)
            } else if let s = Int(pointText), s >= 0, s <= 1_000_000_000 {
                point = .iteration(s)
            } else {
                throw ConfigError("--faults: '\(item)' has point '\(pointText)'; give an iteration 0 to 1000000000 or an epoch such as 2e")
            }
            events.append(Event(joins: parts[0] == "join", worker: worker, point: point))
        }
        self.events = events
    }

    /// The schedule as iterations: for each worker, its absences [leave, join) in order (join
    /// `Int.max` when it never returns). Throws `ConfigError` naming `--faults` when a point is
    /// not inside the run's `totalSteps` iterations, a worker joins before it left or leaves
    /// twice without joining, or at some iteration no worker would be present.
    public func resolve(workers: Int, stepsPerEpoch: Int, totalSteps: Int) throws -> Absences {
        var open: [Int: (Int, Event)] = [:]
        var absences: [Int: [Range<Int>]] = [:]
        let ordered = events.enumerated().sorted {
            let a = $0.element.point.iteration(stepsPerEpoch: stepsPerEpoch)
            let b = $1.element.point.iteration(stepsPerEpoch: stepsPerEpoch)
            return a != b ? a < b : $0.offset < $1.offset
        }.map(\.element)
        for event in ordered {
            let s = event.point.iteration(stepsPerEpoch: stepsPerEpoch)
            guard s < totalSteps else {
                throw ConfigError("--faults: '\(event.text)' is at iteration \(s), past the run's last iteration (\(totalSteps - 1); \(stepsPerEpoch) per epoch)")
            }
            if event.joins {
                guard let (left, leave) = open[event.worker] else {
                    throw ConfigError("--faults: '\(event.text)' joins worker \(event.worker), which has not left before iteration \(s); each join follows its worker's leave")
                }
                guard s > left else {
                    throw ConfigError("--faults: '\(event.text)' is not after '\(leave.text)' (iteration \(left)); a worker joins after it left")
                }
                absences[event.worker, default: []].append(left..<s)
                open[event.worker] = nil
            } else {
                if let (_, leave) = open[event.worker] {
                    throw ConfigError("--faults: '\(event.text)' makes worker \(event.worker) leave again after '\(leave.text)' without a join in between")
                }
                open[event.worker] = (s, event)
            }
        }
        for (w, (left, _)) in open { absences[w, default: []].append(left..<Int.max) }
        let result = Absences(workers: workers, absences: absences)
        // Presence changes only at the points; check each.
        let points = Set(ordered.map { $0.point.iteration(stepsPerEpoch: stepsPerEpoch) } + [0])
        for s in points.sorted() where result.present(at: s).isEmpty {
            throw ConfigError("--faults leaves no worker present at iteration \(s); at least one worker must always be present")
        }
        return result
    }

    /// Which workers are away at each iteration.
    public struct Absences: Equatable, Sendable {
        public let workers: Int
        /// Each worker's absences, increasing and disjoint.
        public let absences: [Int: [Range<Int>]]

        /// Whether someone leaves or returns at iteration `step` (without allocating: the
        /// trainer asks between every two iterations).
        public func changes(at step: Int) -> Bool {
            for (_, ranges) in absences {
                for r in ranges where r.lowerBound == step || r.upperBound == step { return true }
            }
            return false
        }

        /// The workers present at iteration `step`, increasing.
        public func present(at step: Int) -> [Int] {
            (0..<workers).filter { w in !(absences[w]?.contains { $0.contains(step) } ?? false) }
        }
    }
}
