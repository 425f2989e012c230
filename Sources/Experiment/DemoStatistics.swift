import Foundation
import SynmixCore

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

    var json: JSON {
        func number(_ value: Double) -> JSON { value.isFinite ? .double(value) : .null }
        return .object([("rule", .string("slope of real val AP (×100) against log2(synthetic count) through every mixed run; holds when the "
                                          + "95 % bootstrap interval (seeds resampled within each count) lies above 0")),
                         ("slope_per_doubling", number(slope)), ("interval", .array([number(interval.low), number(interval.high)])),
                         ("resamples", .int(Self.resamples)),
                         ("runs", .array(points.map { .object([("synthetic_images", .int($0.count)), ("real_ap", number($0.ap))]) }))])
    }
}

/// How synthetic supervision of one class carries over to real images (seed means, AP ×100).
public struct ClassTransfer: Sendable {
    public var name: String
    /// Synthetic-only on real val (cross-domain) and on synthetic val (in-domain).
    public var syntheticOnReal: Double
    public var syntheticOnSynthetic: Double
    /// Real-only and the largest mix on real val.
    public var realOnReal: Double
    public var mixedOnReal: Double

    /// The share of its in-domain AP that synthetic-only keeps on real images (the seed's Table 1: about a third).
    public var shareOfInDomain: Double { syntheticOnSynthetic > 0 ? syntheticOnReal / syntheticOnSynthetic : .nan }
    /// Synthetic-only against real-trained on real val; undefined where real-only scores 0 (the rare classes).
    public var shareOfRealTrained: Double { realOnReal > 0 ? syntheticOnReal / realOnReal : .nan }

    var json: JSON {
        func number(_ value: Double) -> JSON { value.isFinite ? .double(value) : .null }
        return .object([("class", .string(name)), ("synthetic_only_on_real", number(syntheticOnReal)),
                        ("synthetic_only_on_synthetic", number(syntheticOnSynthetic)), ("real_only_on_real", number(realOnReal)),
                        ("mixed_on_real", number(mixedOnReal)), ("share_of_in_domain", number(shareOfInDomain)),
                        ("share_of_real_trained", number(shareOfRealTrained))])
    }
}

/// The variety each synthetic count holds: how many of the world's class × sub-type × view combinations its
/// frames show, and how often (OUT/coverage.json, written when the generated benchmark is packed).
public struct Coverage: Sendable {
    public static let fileName = "coverage.json"
    /// Combinations the generated world holds.
    public var total: Int
    public struct Count: Sendable {
        public var count: Int
        /// Combinations shown at least once, and the median and fewest objects per combination of the world (0 for one not shown).
        public var combinations: Int
        public var medianObjects: Int
        public var fewestObjects: Int
        public init(count: Int, combinations: Int, medianObjects: Int, fewestObjects: Int) {
            (self.count, self.combinations, self.medianObjects, self.fewestObjects) = (count, combinations, medianObjects, fewestObjects)
        }
    }
    public var perCount: [Count]

    public init(total: Int, perCount: [Count]) {
        self.total = total
        self.perCount = perCount
    }

    public var json: JSON {
        .object([("combinations", .int(total)),
                 ("per_count", .array(perCount.map {
                     .object([("synthetic_images", .int($0.count)), ("combinations", .int($0.combinations)),
                              ("median_objects", .int($0.medianObjects)), ("fewest_objects", .int($0.fewestObjects))])
                 }))])
    }

    public init(json: JSON, file: String) throws {
        guard let total = json["combinations"]?.intValue, let rows = json["per_count"]?.arrayValue else {
            throw FileError(path: file, reason: "not a coverage file: needs combinations and per_count")
        }
        self.total = total
        perCount = try rows.map { row in
            guard let count = row["synthetic_images"]?.intValue, let combinations = row["combinations"]?.intValue,
                  let median = row["median_objects"]?.intValue, let fewest = row["fewest_objects"]?.intValue else {
                throw FileError(path: file, reason: "a per_count row needs synthetic_images, combinations, median_objects and fewest_objects")
            }
            return Count(count: count, combinations: combinations, medianObjects: median, fewestObjects: fewest)
        }
    }

    public func at(_ count: Int) -> Count? { perCount.first { $0.count == count } }
}
