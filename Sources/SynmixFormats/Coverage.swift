import SynmixCore

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
