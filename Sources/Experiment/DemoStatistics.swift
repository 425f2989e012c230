import Foundation
import SynmixCore
import SynmixFormats

/// Table 2's trend: real val AP against log2 of the synthetic count, through every mixed run (not the seed means).
public struct Trend: Sendable {
    /// Bootstrap resamples behind the interval, drawn from `bootstrapSeed`: the same runs give the same interval.
    public static let resamples = 2000
    static let bootstrapSeed: UInt64 = 0x7E4D
    public var points: [(count: Int, ap: Double)]
    /// Least-squares slope: AP (×100) per doubling of the synthetic count.
    public var slope: Double
    /// The slope's 95 % percentile interval, seeds resampled with replacement within each count; NaN where some
    /// count has fewer than two runs or fewer than two counts ran.
    public var interval: (low: Double, high: Double)

    public init(points: [(count: Int, ap: Double)]) {
        self.points = points
        slope = Self.slope(points)
        let byCount = Dictionary(grouping: points, by: \.count).mapValues { $0.map(\.ap) }
        guard byCount.count > 1, byCount.values.allSatisfy({ $0.count > 1 }) else {
            interval = (.nan, .nan)
            return
        }
        let counts = byCount.keys.sorted()
        var random = SplitMix64(seed: Self.bootstrapSeed)
        var slopes: [Double] = []
        slopes.reserveCapacity(Self.resamples)
        for _ in 0..<Self.resamples {
            var sample: [(count: Int, ap: Double)] = []
            for count in counts {
                let values = byCount[count]!
                for _ in values.indices { sample.append((count, values[Int(random.next() % UInt64(values.count))])) }
            }
            slopes.append(Self.slope(sample))
        }
        slopes.sort()
        let last = Double(slopes.count - 1)
        interval = (slopes[Int((0.025 * last).rounded(.down))], slopes[Int((0.975 * last).rounded(.up))])
    }

    var resampledInterval: (low: Double, high: Double)? { interval.low.isNaN ? nil : interval }

    static func slope(_ points: [(count: Int, ap: Double)]) -> Double {
        let x = points.map { log2(Double($0.count)) }, y = points.map(\.ap)
        guard x.count > 1 else { return .nan }
        let mx = x.reduce(0, +) / Double(x.count), my = y.reduce(0, +) / Double(y.count)
        let sxx = x.map { ($0 - mx) * ($0 - mx) }.reduce(0, +)
        guard sxx > 0 else { return .nan }
        return zip(x, y).map { ($0 - mx) * ($1 - my) }.reduce(0, +) / sxx
    }

    /// The trend in report.json.
    var record: ExperimentReport.Trend {
        ExperimentReport.Trend(rule: "slope of real val AP (×100) against log2(synthetic count) through every mixed run; holds when the "
                                   + "95 % bootstrap interval (seeds resampled within each count) lies above 0",
                               slopePerDoubling: slope, interval: interval, resamples: Self.resamples,
                               runs: points.map { ($0.count, $0.ap) })
    }
}
