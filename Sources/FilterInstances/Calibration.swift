import SynmixCore
import SynmixFormats

/// Derives per-class `min_area` and `min_height` from a real dataset's own
/// annotations, so that synthetic labels follow the real annotation policy.
///
/// Statistic: the p-th percentile (nearest rank, default p = 5) of the real
/// non-crowd instances of each class, measured relative to the image (height
/// / image height, area / image area) and scaled to the filtered manifest's
/// image size: a synthetic instance smaller than 95 % of what real annotators
/// drew for its class is one they would most likely have left out. Classes
/// without real instances keep their file or default values.
public struct Calibration: Sendable {
    public struct ClassStatistic: Sendable, Equatable {
        public var instances: Int
        public var areaFraction: Double    // p-th percentile of area / image area
        public var heightFraction: Double  // p-th percentile of bbox height / image height
    }

    public var percentile: Double
    public var perClass: [String: ClassStatistic]
    public var source: String

    /// Nearest-rank percentile of a non-empty list.
    static func nearestRank(_ values: [Double], _ percentile: Double) -> Double {
        let sorted = values.sorted()
        let rank = max(1, Int((percentile / 100 * Double(sorted.count)).rounded(.up)))
        return sorted[min(rank, sorted.count) - 1]
    }

    public init(manifest path: String, percentile: Double) throws {
        guard percentile > 0 && percentile <= 100 else {
            throw ConfigurationError(file: "command line", line: nil, reason: "--calibration-percentile must be within (0, 100]")
        }
        let reader = try ManifestReader(path)
        var areas: [String: [Double]] = [:], heights: [String: [Double]] = [:]
        while let record = try reader.nextRecord() {
            for instance in record.instances where !instance.isCrowd {
                areas[instance.className, default: []].append(Double(instance.area) / Double(record.width * record.height))
                heights[instance.className, default: []].append(Double(instance.bbox[3]) / Double(record.height))
            }
        }
        self.percentile = percentile
        source = path
        perClass = areas.mapValues { _ in ClassStatistic(instances: 0, areaFraction: 0, heightFraction: 0) }
        for (name, values) in areas {
            perClass[name] = ClassStatistic(instances: values.count,
                                            areaFraction: Self.nearestRank(values, percentile),
                                            heightFraction: Self.nearestRank(heights[name]!, percentile))
        }
    }

    /// Per-class thresholds at an image size of `width` × `height`, in whole pixels (rounded down).
    public func apply(to table: ThresholdTable, width: Int, height: Int) -> ThresholdTable {
        var calibrated = table
        for (name, statistic) in perClass {
            var rules = calibrated.classes[name] ?? [:]
            rules[.minArea] = (statistic.areaFraction * Double(width * height)).rounded(.down)
            rules[.minHeight] = (statistic.heightFraction * Double(height)).rounded(.down)
            calibrated.classes[name] = rules
        }
        return calibrated
    }
}
