import Testing
import VolleyCore

@testable import VolleyAnalysis

@Suite struct ScalabilityTests {
    func curve(
        lambda: Double,
        sigma: Double,
        kappa: Double,
        levels: [Double],
        noise: Double = 0
    ) -> [(
        concurrency: Double, throughput: Double
    )] {
        let law = USLFit(lambda: lambda, sigma: sigma, kappa: kappa, rSquared: 1)
        var random = SplitMix64(seed: 42)
        return levels.map { n in
            let jitter = noise == 0 ? 0 : noise * (Double(random.next() % 2001) / 1000 - 1)
            return (n, law.throughput(at: n) * (1 + jitter))
        }
    }

    @Test func recoversKnownContentionAndCoherency() throws {
        let levels: [Double] = [1, 2, 4, 8, 16, 32, 64, 128]
        let fit = try #require(USLFit.fit(curve(lambda: 100, sigma: 0.05, kappa: 0.0005, levels: levels)))
        #expect(abs(fit.sigma - 0.05) < 0.005)
        #expect(abs(fit.kappa - 0.0005) < 0.0001)
        #expect(abs(fit.lambda - 100) < 2)
        #expect(fit.rSquared > 0.999)
        let peak = try #require(fit.peakConcurrency)
        #expect(abs(peak - (0.95 / 0.0005).squareRoot()) < 3)
    }

    @Test func recoversThemThroughNoise() throws {
        let levels: [Double] = [1, 2, 3, 4, 6, 8, 10, 15, 20, 30, 40]
        let fit = try #require(
            USLFit.fit(curve(lambda: 50, sigma: 0.1, kappa: 0.002, levels: levels, noise: 0.02))
        )
        #expect(abs(fit.sigma - 0.1) < 0.03)
        #expect(abs(fit.kappa - 0.002) < 0.001)
        #expect(fit.rSquared > 0.95)
    }

    @Test func aPureBottleneckHasNoCoherencyTerm() throws {
        // A pool of 4: throughput grows linearly to 4 clients, then stays flat.
        let points: [(concurrency: Double, throughput: Double)] = [
            (1, 47), (2, 94), (4, 186), (8, 192), (16, 192), (32, 191), (64, 190),
        ]
        let fit = try #require(USLFit.fit(points))
        #expect(fit.sigma > 0.15)
        #expect(fit.kappa < 0.002)
        let peak = try #require(fit.peakThroughput)
        #expect(peak > 170 && peak < 260)
    }

    @Test func tooFewLevelsGiveNoFit() {
        #expect(USLFit.fit([(1, 10), (2, 20)]) == nil)
        #expect(USLFit.fit([(1, 10), (1, 11), (2, 20)]) == nil)
    }

    @Test func littlesLawRatio() {
        #expect(abs(LittlesLaw.ratio(concurrency: 4, throughput: 190, meanLatencyMs: 21) - 0.9975) < 1e-9)
    }
}
