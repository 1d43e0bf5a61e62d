import Foundation
import VolleyCore

/// Little's law on Volley's own numbers: how many requests the service worked on at once.
///
/// The fastest response of a run is the service's time without any queue (the first requests
/// meet an idle service), so throughput × that time is the *width* of whatever capped the
/// service: 15 for a pool of 15 connections each held 300 ms, 2 for two sync workers, about 1
/// for one lock or one Python interpreter. Matched against the resources the probes saw —
/// connections in PostgreSQL, threads and workers in the process, cores — it names the
/// bottleneck without the service exporting a single metric. `demand` is how many requests
/// Volley had outstanding (in flight, plus those waiting for a connection): above the width,
/// the rest queued.
struct ServedWidth {
    /// Completed responses per second (median of the loaded seconds).
    var throughput: Double
    /// The fastest response of the run, in milliseconds.
    var serviceMs: Double
    /// throughput × serviceMs / 1000.
    var width: Double
    /// Requests outstanding (median of the loaded seconds).
    var demand: Double
    /// Median of the per-second p50 latencies.
    var p50Ms: Double

    /// More requests outstanding than the service worked on, and latency well above the
    /// service time: requests queued somewhere in the service.
    var queued: Bool { demand >= 1.5 * max(width, 1) && p50Ms >= 2 * serviceMs }

    /// "12 req/s × 302 ms (the fastest response) ≈ 15 at a time, with 64 in flight"
    var evidence: String {
        "Little's law: \(Fmt.num(throughput)) responses/s × \(Fmt.ms(serviceMs)) (the fastest response, "
            + "a request that did not queue) ≈ \(Fmt.num(rounded(width))) served at a time, while "
            + "\(Fmt.num(demand.rounded())) were in flight (p50 \(Fmt.ms(p50Ms)))"
    }

    func rounded(_ x: Double) -> Double { x >= 10 ? x.rounded() : (x * 10).rounded() / 10 }

    /// Whether `n` resources (connections, threads) explain the width. The fastest response
    /// is an upper bound of the bottleneck's time: it includes the parts served in parallel
    /// (the round trip, parsing), and the first requests often pay a cold start (a connection
    /// opened, a cache filled) — measured up to 1.5× on the field targets. So the width may
    /// stand well above `n`, hardly below it.
    func matches(_ n: Double) -> Bool { width >= 0.75 * n - 0.5 && width <= 1.6 * n + 0.5 }
}

extension RunView {
    /// The loaded seconds that completed responses, without the first (a ramp from idle).
    var steady: [TimelineEntry] {
        let done = loaded.filter { $0.completed > 0 }
        return done.count > 4 ? Array(done.dropFirst()) : done
    }

    var servedWidth: ServedWidth? {
        let seconds = steady
        let fastest = run.latencyMs.min
        // Mostly failures: the fastest response may be an error answered at once (a proxy's
        // 503), not the service's time.
        let failed = run.errors
        guard seconds.count >= 3, fastest > 0, Double(failed) <= 0.5 * Double(max(run.requests, 1)),
            let throughput = Stats.median(seconds.map(\.rps)), throughput > 0,
            let demand = Stats.median(seconds.map { Double($0.inFlight + $0.waiting) }),
            let p50 = Stats.median(seconds.map(\.latencyMs.p50))
        else { return nil }
        return ServedWidth(
            throughput: throughput,
            serviceMs: fastest,
            width: throughput * fastest / 1000,
            demand: demand,
            p50Ms: p50
        )
    }

    /// Series `name` of `probe` over the steady seconds (a second of slack each side).
    func steadyPoints(_ probe: ProbeResult, _ name: String) -> [Point] {
        let seconds = steady
        guard let first = seconds.first?.t, let last = seconds.last?.t else { return [] }
        return points(probe, name).filter { $0.t >= first - 1 && $0.t <= last + 0.5 }
    }

    func steadyMedian(_ probe: ProbeResult, _ name: String) -> Double? {
        Stats.median(steadyPoints(probe, name).map(\.v))
    }

    /// The host's idle CPU in cores (median over the loaded seconds), when measured.
    func idleCores(_ cores: Double) -> Double? {
        guard let host = Stats.median(loaded.compactMap(\.hostCPUPercent)) else { return nil }
        return max(0, (100 - host) / 100 * cores)
    }
}
