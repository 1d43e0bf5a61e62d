import Testing
import VolleyAnalysis
import VolleyCore

@Suite struct KneeTests {
    func level(_ c: Double, _ goodput: Double, p50: Double = 10, errors: Double = 0) -> LevelResult {
        LevelResult(level: c, goodput: goodput, p50Ms: p50, p99Ms: p50 * 2, errorRate: errors)
    }

    @Test func theKneeIsWhereLaterLevelsStopAddingThroughput() throws {
        let knee = try #require(
            KneeFinder.find([
                level(1, 48, p50: 21), level(2, 95, p50: 21), level(4, 180, p50: 22),
                level(8, 188, p50: 42), level(16, 185, p50: 85), level(32, 183, p50: 170, errors: 0.2),
            ])
        )
        #expect(knee.level == 4)
        #expect(knee.goodput == 180)
        #expect(knee.peakLevel == 8)
        #expect(knee.p50AtKnee == 22 && knee.p50AtTop == 170)
        #expect(knee.firstErrorLevel == 32)
    }

    @Test func stillGrowingAtTheTopMeansNoKnee() {
        #expect(KneeFinder.find([level(1, 50), level(2, 100), level(4, 200)]) == nil)
        #expect(KneeFinder.find([level(1, 50)]) == nil)
    }

    @Test func orderOfResultsDoesNotMatter() throws {
        let knee = try #require(KneeFinder.find([level(8, 100), level(2, 100), level(4, 101)]))
        #expect(knee.level == 2)
    }

    @Test func aLateRiseAboveTheThresholdMovesTheKnee() throws {
        // A plateau at 2–4 but a real gain at 16: the knee is after that gain.
        let knee = try #require(
            KneeFinder.find([level(1, 50), level(2, 90), level(4, 92), level(16, 150), level(32, 151)])
        )
        #expect(knee.level == 16)
    }
}
