import VolleyCore

/// Gunther's Universal Scalability Law, fitted to measured throughput:
///
///     X(N) = λ·N / (1 + σ·(N − 1) + κ·N·(N − 1))
///
/// λ is the throughput of one client alone, σ the contention (the serial fraction: queueing
/// for a shared resource such as a pool or a lock) and κ the coherency cost (crosstalk that
/// makes throughput *fall* past a peak). The fit turns "it stopped scaling" into two numbers
/// and a prediction: the peak concurrency √((1 − σ)/κ) and the most throughput to expect.
public struct USLFit: Sendable, Codable, Equatable {
    public var lambda: Double
    public var sigma: Double
    public var kappa: Double
    /// Coefficient of determination of the fit on the measured throughputs.
    public var rSquared: Double

    /// Concurrency at which throughput peaks; nil when κ = 0 (throughput only flattens).
    public var peakConcurrency: Double? {
        guard kappa > 0 else { return nil }
        return ((1 - sigma) / kappa).squareRoot()
    }

    /// The throughput at the peak, or the asymptote λ/σ when κ = 0.
    public var peakThroughput: Double? {
        if let n = peakConcurrency { return throughput(at: n) }
        return sigma > 0 ? lambda / sigma : nil
    }

    public func throughput(at n: Double) -> Double {
        lambda * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))
    }

    /// Least-squares fit on (concurrency, throughput) points. λ is searched around the best
    /// per-client throughput at the lowest levels; for each λ, σ and κ come from linear
    /// least squares on the linearised law  N·λ/X − 1 = σ(N − 1) + κN(N − 1), both kept ≥ 0;
    /// the λ whose curve fits the measured throughputs best wins. Nil with fewer than three
    /// distinct levels.
    public static func fit(_ points: [(concurrency: Double, throughput: Double)]) -> USLFit? {
        let data = points.filter { $0.concurrency >= 1 && $0.throughput > 0 }.sorted { $0.concurrency < $1.concurrency }
        guard Set(data.map(\.concurrency)).count >= 3, let first = data.first else { return nil }
        let perClient =
            data.prefix(2).map { $0.throughput / $0.concurrency }.max() ?? first.throughput / first.concurrency
        var best: USLFit?
        var bestError = Double.infinity
        var factor = 0.8
        while factor <= 1.5 {
            let lambda = perClient * factor
            let (sigma, kappa) = linearFit(data, lambda: lambda)
            let candidate = USLFit(lambda: lambda, sigma: sigma, kappa: kappa, rSquared: 0)
            let error = data.reduce(0.0) {
                let d = candidate.throughput(at: $1.concurrency) - $1.throughput
                return $0 + d * d
            }
            if error < bestError {
                bestError = error
                best = candidate
            }
            factor += 0.0025
        }
        guard var fit = best else { return nil }
        let mean = data.reduce(0.0) { $0 + $1.throughput } / Double(data.count)
        let total = data.reduce(0.0) { $0 + ($1.throughput - mean) * ($1.throughput - mean) }
        fit.rSquared = total > 0 ? max(0, 1 - bestError / total) : 1
        return fit
    }

    /// σ, κ ≥ 0 minimising Σ (y − σ·a − κ·b)² with y = Nλ/X − 1, a = N − 1, b = N(N − 1).
    static func linearFit(_ data: [(concurrency: Double, throughput: Double)], lambda: Double) -> (Double, Double) {
        var saa = 0.0
        var sab = 0.0
        var sbb = 0.0
        var say = 0.0
        var sby = 0.0
        for p in data {
            let n = p.concurrency
            let y = n * lambda / p.throughput - 1
            let a = n - 1
            let b = n * (n - 1)
            saa += a * a
            sab += a * b
            sbb += b * b
            say += a * y
            sby += b * y
        }
        let det = saa * sbb - sab * sab
        var sigma = det != 0 ? (say * sbb - sby * sab) / det : 0
        var kappa = det != 0 ? (saa * sby - sab * say) / det : 0
        if sigma < 0 || kappa < 0 {
            // Refit with one parameter held at zero; keep the better of the two.
            let sigmaOnly = saa > 0 ? max(0, say / saa) : 0
            let kappaOnly = sbb > 0 ? max(0, sby / sbb) : 0
            func error(_ s: Double, _ k: Double) -> Double {
                data.reduce(0.0) { total, p in
                    let n = p.concurrency
                    let r = n * lambda / p.throughput - 1 - s * (n - 1) - k * n * (n - 1)
                    return total + r * r
                }
            }
            if error(sigmaOnly, 0) <= error(0, kappaOnly) {
                sigma = sigmaOnly
                kappa = 0
            } else {
                sigma = 0
                kappa = kappaOnly
            }
        }
        return (sigma, kappa)
    }
}

/// Little's law for a closed-model level: N = X · R. The ratio X·R/N is ≈ 1 when every
/// connection was busy with a request all the time; well below 1 means the clients were
/// idle part of the time (think time, or the load generator itself was the bottleneck).
public enum LittlesLaw {
    public static func ratio(concurrency: Double, throughput: Double, meanLatencyMs: Double) -> Double {
        guard concurrency > 0 else { return 0 }
        return throughput * meanLatencyMs / 1000 / concurrency
    }
}
