import SynmixCore

/// An evaluation result as a file holds it (`train-shards evaluate --out`'s metrics.json, each evaluation in
/// fit's metrics.json): written and read here only. AP values are fractions; NaN (a class without ground truth)
/// is written as null and read back as NaN.
public struct EvaluationResult: Sendable {
    public static let metric = "cityscapes-instance-ap"

    public struct ClassScore: Sendable, Equatable {
        public var name: String
        public var ap: Double
        public var ap50: Double
        /// AP at each of `overlaps`.
        public var apPerOverlap: [Double]

        public init(name: String, ap: Double, ap50: Double, apPerOverlap: [Double]) {
            (self.name, self.ap, self.ap50, self.apPerOverlap) = (name, ap, ap50, apPerOverlap)
        }
    }

    public var images: Int
    public var ap: Double
    public var ap50: Double
    public var classes: [ClassScore]
    /// The IoU thresholds AP is averaged over.
    public var overlaps: [Double]
    /// What the writer adds: the resolution scored (`evaluate --model`, fit) and each image's scaled minimum
    /// region; the skipped files (`evaluate --cityscapes-gt`); COCOeval's twelve mask numbers by name (`--coco`).
    public var resolution: (width: Int, height: Int)?
    public var minRegionSizes: [Double]?
    public var skipped: [String]?
    public var coco: [(name: String, value: Double)]?

    public init(images: Int, ap: Double, ap50: Double, classes: [ClassScore], overlaps: [Double]) {
        (self.images, self.ap, self.ap50, self.classes, self.overlaps) = (images, ap, ap50, classes, overlaps)
    }

    public var json: JSON {
        func value(_ x: Double) -> JSON { x.isNaN ? .null : .double(x) }
        var extra: [(String, JSON)] = []
        if let resolution { extra.append(("resolution", .array([.int(resolution.width), .int(resolution.height)]))) }
        if let minRegionSizes { extra.append(("min_region_sizes", .array(minRegionSizes.map { .double($0) }))) }
        if let skipped { extra.append(("skipped", .array(skipped.map { .string($0) }))) }
        if let coco { extra.append(("coco", .object(coco.map { ($0.name, .double($0.value)) }))) }
        return .object([
            ("metric", .string(Self.metric)),
            ("images", .int(images)),
            ("ap", value(ap)), ("ap50", value(ap50)),
            ("classes", .object(classes.map { score in
                (score.name, .object([("ap", value(score.ap)), ("ap50", value(score.ap50)),
                                      ("ap_per_overlap", .array(score.apPerOverlap.map(value)))]))
            })),
            ("overlaps", .array(overlaps.map { .double($0) })),
        ] + extra)
    }

    public init(json value: JSON, file: String) throws {
        func fail(_ reason: String) -> FileError { FileError(path: file, reason: "evaluation result: \(reason)") }
        func number(_ raw: JSON?, _ what: String) throws -> Double {
            guard let raw else { throw fail("missing '\(what)'") }
            if raw.isNull { return .nan }
            guard let x = raw.doubleValue else { throw fail("'\(what)' is not a number") }
            return x
        }
        guard value["metric"]?.stringValue == Self.metric, let images = value["images"]?.intValue else {
            throw fail("not a \(Self.metric) result")
        }
        guard case .object(let pairs)? = value["classes"] else { throw fail("missing 'classes'") }
        self.images = images
        ap = try number(value["ap"], "ap")
        ap50 = try number(value["ap50"], "ap50")
        classes = try pairs.map { name, scores in
            let perOverlap = try (scores["ap_per_overlap"]?.arrayValue ?? []).enumerated().map { try number($1, "\(name).ap_per_overlap[\($0)]") }
            return ClassScore(name: name, ap: try number(scores["ap"], "\(name).ap"), ap50: try number(scores["ap50"], "\(name).ap50"),
                              apPerOverlap: perOverlap)
        }
        overlaps = try (value["overlaps"]?.arrayValue ?? []).enumerated().map { try number($1, "overlaps[\($0)]") }
        if let size = value["resolution"]?.arrayValue?.compactMap(\.intValue), size.count == 2 { resolution = (size[0], size[1]) }
        minRegionSizes = value["min_region_sizes"]?.arrayValue?.compactMap(\.doubleValue)
        skipped = value["skipped"]?.arrayValue?.compactMap(\.stringValue)
        if case .object(let pairs)? = value["coco"] { coco = pairs.compactMap { name, x in x.doubleValue.map { (name, $0) } } }
    }

    public func ap(of className: String) -> Double { classes.first { $0.name == className }?.ap ?? .nan }
}
