/// Modelled wall-clock when collectives overlap compute (Streaming DiLoCo's τ, Douillard et al.
/// 2025, §2.3): the workers compute iteration after iteration while a collective started after
/// iteration t travels, and they wait for it only after iteration t + τ, where its result is
/// applied. The network carries one collective at a time, in the order they start.
///
/// With c the collective's modelled seconds (`NetworkModel`) and C(s) the compute of iteration
/// s (the slowest worker's forward, backward and optimizer step, as without overlap):
///
///     clock ← clock + C(t)                      after iteration t's compute
///     start = max(clock, link),  end = start + c,  link ← end
///     clock ← max(clock, end)                   after iteration t + τ's compute
///
/// so a collective costs its exposed part, max(0, c − C(t+1) − … − C(t+τ)) when the link was
/// free, and nothing when it fits behind τ iterations. τ = 0 gives clock += C(t) + c, the
/// blocking model of every other strategy. A collective still in flight when training ends is
/// not waited for (its result is not applied).
package struct ModelledTimeline: Codable, Equatable {
    /// Modelled seconds since the run started.
    package private(set) var clock: Double = 0
    /// When the network is free of the collectives started so far.
    private var link: Double = 0
    /// Collectives in flight: the iteration after which each is needed, and when it arrives.
    private var inFlight: [InFlight] = []

    private struct InFlight: Codable, Equatable {
        var neededAfter: Int
        var arrives: Double
    }

    package init() {
        inFlight.reserveCapacity(64)
    }

    /// Advances by iteration `step`: its `compute` seconds, then `communication` seconds of
    /// collectives started after it and needed `overlap` iterations later. Returns the seconds
    /// the clock moved.
    @discardableResult
    package mutating func advance(step: Int, compute: Double, communication: Double, overlap: Int) -> Double {
        let before = clock
        clock += compute
        if communication > 0 {
            let start = max(clock, link)
            link = start + communication
            if overlap == 0 {
                clock = max(clock, link)
            } else {
                inFlight.append(InFlight(neededAfter: step + overlap, arrives: link))
            }
        }
        for f in inFlight where f.neededAfter == step { clock = max(clock, f.arrives) }
        inFlight.removeAll { $0.neededAfter <= step }
        return clock - before
    }
}
