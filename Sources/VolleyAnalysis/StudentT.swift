import Foundation

/// Student's t distribution, for intervals from a handful of rounds: with 3 rounds the 97.5 %
/// quantile is 4.30, not the normal 1.96, and using 1.96 would call every second drift a
/// difference.
public enum StudentT {
    /// P(T ≤ t) for `df` degrees of freedom (df > 0, may be fractional as in Welch's test).
    public static func cdf(_ t: Double, df: Double) -> Double {
        guard df > 0, t.isFinite else { return t > 0 ? 1 : 0 }
        let x = df / (df + t * t)
        let tail = 0.5 * regularizedBeta(x, a: df / 2, b: 0.5)
        return t >= 0 ? 1 - tail : tail
    }

    /// The p-quantile (0 < p < 1), by bisection on the CDF (monotone) to 10 significant digits.
    public static func quantile(_ p: Double, df: Double) -> Double {
        precondition(p > 0 && p < 1 && df > 0, "quantile needs 0 < p < 1 and df > 0")
        if p < 0.5 { return -quantile(1 - p, df: df) }
        var low = 0.0
        var high = 1.0
        while cdf(high, df: df) < p { high *= 2 }
        while high - low > 1e-10 * max(1, high) {
            let mid = (low + high) / 2
            if cdf(mid, df: df) < p { low = mid } else { high = mid }
        }
        return (low + high) / 2
    }

    /// I_x(a, b), the regularized incomplete beta function (continued fraction, as in
    /// Numerical Recipes' `betai`).
    static func regularizedBeta(_ x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logGammas: Double = lgamma(a + b) - lgamma(a) - lgamma(b)
        let logPowers: Double = a * log(x) + b * log(1 - x)
        let front = exp(logGammas + logPowers)
        if x < (a + 1) / (a + b + 2) { return front * continuedFraction(x, a: a, b: b) / a }
        return 1 - front * continuedFraction(1 - x, a: b, b: a) / b
    }

    private static func continuedFraction(_ x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...300 {
            let m = Double(m)
            let even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 + even * d
            if abs(d) < tiny { d = tiny }
            c = 1 + even / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            let odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 + odd * d
            if abs(d) < tiny { d = tiny }
            c = 1 + odd / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let step = d * c
            h *= step
            if abs(step - 1) < 1e-15 { break }
        }
        return h
    }
}
