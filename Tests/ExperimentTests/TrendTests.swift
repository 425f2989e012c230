import XCTest
@testable import Experiment

/// The trend rule of Table 2: a least-squares slope of AP against log2 of the synthetic count, through every run,
/// with a bootstrap interval from the seeds.
final class TrendTests: XCTestCase {
    func testPointsOnALineGiveItsSlopeAndAnIntervalOfThatSlopeAlone() throws {
        var points: [(count: Int, ap: Double)] = []
        for count in [8, 16, 32, 64] {
            let ap: Double = 10 + 2 * log2(Double(count))
            points += [(count, ap), (count, ap)]
        }
        let trend = Trend(points: points)
        XCTAssertEqual(trend.slope, 2, accuracy: 1e-12)
        XCTAssertEqual(trend.interval.low, 2, accuracy: 1e-12)
        XCTAssertEqual(trend.interval.high, 2, accuracy: 1e-12)
    }

    func testSeedNoiseWidensTheIntervalAroundTheSlope() throws {
        // 1 AP per doubling, seeds ±0.5 apart: the interval holds the slope and lies above 0.
        var points: [(count: Int, ap: Double)] = []
        for count in [86, 173, 259, 576] {
            for offset in [-0.5, 0, 0.5] { points.append((count, 12 + log2(Double(count) / 86) + offset)) }
        }
        let trend = Trend(points: points)
        XCTAssertEqual(trend.slope, 1, accuracy: 1e-9)
        XCTAssertLessThan(trend.interval.low, 1)
        XCTAssertGreaterThan(trend.interval.high, 1)
        XCTAssertGreaterThan(trend.interval.low, 0)
        // The same runs give the same interval (a fixed bootstrap seed).
        XCTAssertEqual(Trend(points: points).interval.low, trend.interval.low)
    }

    func testAFlatCurveWithNoiseHasAnIntervalAcross0() throws {
        let noise: [Double] = [1.5, -1.2, 0.3, -0.4, 1.1, -1.3, 0.2, 0.9, -0.8, -1.0, 1.4, -0.2]
        var points: [(count: Int, ap: Double)] = []
        for (index, count) in [86, 173, 259, 576].enumerated() {
            for seed in 0..<3 { points.append((count, 14 + noise[index * 3 + seed])) }
        }
        let trend = Trend(points: points)
        XCTAssertLessThan(trend.interval.low, 0)
        XCTAssertGreaterThan(trend.interval.high, 0)
    }

    func testOneSeedPerCountCannotBeResampled() {
        let trend = Trend(points: [(86, 10), (173, 11), (576, 13)])
        XCTAssertEqual(trend.slope, 1.0998824903389761, accuracy: 1e-12)   // least squares through the three points
        XCTAssertNil(trend.resampledInterval)
        XCTAssertTrue(trend.interval.low.isNaN)
    }
}
