import SynmixCore
import SynmixFormats

/// Cityscapes instance-level AP (cityscapesScripts `evalInstanceLevelSemanticLabeling`),
/// reproduced step by step from the script (matchGtWithPreds, evaluateMatches) on RLE masks:
/// every intersection comes from run lists, never from full-size boolean images.
public struct InstanceEvaluator: Sendable {
    /// The official IoU thresholds, as np.arange(0.5, 1., 0.05) produces them (literal doubles).
    public static let overlaps: [Double] = [0.5, 0.55, 0.6000000000000001, 0.6500000000000001, 0.7000000000000002,
                                            0.7500000000000002, 0.8000000000000003, 0.8500000000000003,
                                            0.9000000000000004, 0.9500000000000004]

    public struct GroundTruth: Sendable {
        public var classIndex: Int
        public var isGroup: Bool      // a crowd region: matches are ignored, its pixels count as ignore
        public var mask: RLE
        public init(classIndex: Int, isGroup: Bool, mask: RLE) {
            self.classIndex = classIndex
            self.isGroup = isGroup
            self.mask = mask
        }
    }

    public struct Prediction: Sendable {
        public var classIndex: Int
        public var score: Double
        public var mask: RLE
        public init(classIndex: Int, score: Double, mask: RLE) {
            self.classIndex = classIndex
            self.score = score
            self.mask = mask
        }
    }

    public struct Image: Sendable {
        public var groundTruth: [GroundTruth]
        public var void: RLE?
        public var predictions: [Prediction]
        /// This image's minimum region, when it differs from the evaluator's (an image
        /// evaluated at reduced resolution, see `minRegionSize(width:height:originalWidth:originalHeight:)`).
        public var minRegionSize: Double?
        public init(groundTruth: [GroundTruth], void: RLE?, predictions: [Prediction], minRegionSize: Double? = nil) {
            self.groundTruth = groundTruth
            self.void = void
            self.predictions = predictions
            self.minRegionSize = minRegionSize
        }
    }

    public var classNames: [String]
    /// Ground truth smaller than this is ignored (100 px at Cityscapes' 2048×1024; scale it with the image area).
    public var minRegionSize: Double

    public init(classNames: [String], minRegionSize: Double = 100) {
        self.classNames = classNames
        self.minRegionSize = minRegionSize
    }

    /// Stage 1, per image and independent of the threshold: predictions linked
    /// to the same-class ground truth they touch.
    struct MatchedImage: Sendable {
        struct GT { var count: Int; var isGroup: Bool; var links: [(pred: Int, inter: Int)] = [] }
        struct Pred { var classIndex: Int; var score: Double; var count: Int; var voidCount: Int; var links: [(gt: Int, inter: Int)] = [] }
        var gts: [GT] = []
        var preds: [Pred] = []
    }

    static func match(_ image: Image) -> MatchedImage {
        var matched = MatchedImage()
        matched.gts = image.groundTruth.map { MatchedImage.GT(count: $0.mask.area, isGroup: $0.isGroup) }
        for prediction in image.predictions {
            let count = prediction.mask.area
            guard count > 0 else { continue }   // an empty mask is skipped before anything else
            var pred = MatchedImage.Pred(classIndex: prediction.classIndex, score: prediction.score, count: count,
                                         voidCount: image.void.map { prediction.mask.intersectionArea($0) } ?? 0)
            let predIndex = matched.preds.count
            let box = prediction.mask.bbox
            for (gtIndex, gt) in image.groundTruth.enumerated() where gt.classIndex == prediction.classIndex {
                let g = gt.mask.bbox
                guard box[0] < g[0] + g[2], g[0] < box[0] + box[2], box[1] < g[1] + g[3], g[1] < box[1] + box[3] else { continue }
                let inter = prediction.mask.intersectionArea(gt.mask)
                if inter > 0 {
                    pred.links.append((gtIndex, inter))
                    matched.gts[gtIndex].links.append((predIndex, inter))
                }
            }
            matched.preds.append(pred)
        }
        return matched
    }

    public struct Result: Sendable {
        /// ap[class][threshold]; NaN where a class has no valid ground truth.
        public var ap: [[Double]]
        public var classNames: [String]
        public var images: Int

        public func classAP(_ c: Int) -> Double { APMath.classMean(ap[c]) }
        public func classAP50(_ c: Int) -> Double { ap[c][0] }
        public var meanAP: Double { APMath.nanMean(ap.flatMap { $0 }) }
        public var meanAP50: Double { APMath.nanMean(ap.map { $0[0] }) }
    }

    public func evaluate(_ images: [Image]) -> Result {
        let matched = images.map(Self.match)
        var ap = [[Double]](repeating: [Double](repeating: .nan, count: Self.overlaps.count), count: classNames.count)
        for (t, th) in Self.overlaps.enumerated() {
            for c in classNames.indices {
                ap[c][t] = averagePrecision(matched, images, classIndex: c, threshold: th)
            }
        }
        return Result(ap: ap, classNames: classNames, images: images.count)
    }

    func averagePrecision(_ matched: [MatchedImage], _ images: [Image], classIndex c: Int, threshold th: Double) -> Double {
        var yTrue: [Bool] = [], yScore: [Double] = []
        var hardFns = 0
        var haveGt = false, havePred = false
        for (image, m) in zip(images, matched) {
            func iou(_ gt: MatchedImage.GT, _ pred: MatchedImage.Pred, _ inter: Int) -> Double {
                Double(inter) / Double(gt.count + pred.count - inter)
            }
            let minRegionSize = image.minRegionSize ?? self.minRegionSize
            func valid(_ g: Int) -> Bool { !m.gts[g].isGroup && Double(m.gts[g].count) >= minRegionSize }
            let gtIndices = image.groundTruth.indices.filter { image.groundTruth[$0].classIndex == c && valid($0) }
            let predIndices = m.preds.indices.filter { m.preds[$0].classIndex == c }
            if !gtIndices.isEmpty { haveGt = true }
            if !predIndices.isEmpty { havePred = true }
            for g in gtIndices {
                var best: Double?
                for (p, inter) in m.gts[g].links where iou(m.gts[g], m.preds[p], inter) > th {
                    let score = m.preds[p].score
                    if let current = best {
                        // A duplicate: the higher score stays the match, the lower becomes a false positive.
                        yTrue.append(false)
                        yScore.append(min(current, score))
                        best = max(current, score)
                    } else {
                        best = score
                    }
                }
                if let best {
                    yTrue.append(true)
                    yScore.append(best)
                } else {
                    hardFns += 1
                }
            }
            for p in predIndices {
                let pred = m.preds[p]
                // Matching ANY same-class ground truth (groups and small ones included) means "not a false positive".
                if pred.links.contains(where: { iou(m.gts[$0.gt], pred, $0.inter) > th }) { continue }
                var ignored = pred.voidCount
                for (g, inter) in pred.links {
                    if m.gts[g].isGroup { ignored += inter }
                    if Double(m.gts[g].count) < minRegionSize { ignored += inter }   // counted twice for a small group, as officially
                }
                if Double(ignored) / Double(pred.count) <= th {
                    yTrue.append(false)
                    yScore.append(pred.score)
                }
            }
        }
        guard haveGt else { return .nan }
        guard havePred else { return 0 }
        // The official script crashes (IndexError) when there are predictions but
        // every one is ignored and every ground truth missed; nothing was found: 0.
        guard !yScore.isEmpty else { return 0 }
        return APMath.averagePrecision(yTrue: yTrue, yScore: yScore, hardFalseNegatives: hardFns)
    }
}

extension InstanceEvaluator.Image {
    /// Ground truth from a manifest record or shard sample (unified taxonomy):
    /// crowd instances are groups, the ignore region is void.
    public init(instances: [InstanceRecord], ignore: RLE?, classNames: [String], predictions: [InstanceEvaluator.Prediction]) {
        self.init(groundTruth: instances.compactMap { instance in
                      classNames.firstIndex(of: instance.className).map {
                          InstanceEvaluator.GroundTruth(classIndex: $0, isGroup: instance.isCrowd, mask: instance.mask)
                      }
                  },
                  void: ignore, predictions: predictions)
    }
}

extension InstanceEvaluator {
    /// The official 100 px minimum region, scaled by the pixel-area ratio of an
    /// evaluation at reduced resolution (6.25 px at 512×256 for a 2048×1024 original).
    public static func minRegionSize(width: Int, height: Int, originalWidth: Int, originalHeight: Int) -> Double {
        100 * Double(width * height) / Double(originalWidth * originalHeight)
    }
}
