import SynmixCore

/// COCO-style mask AP as `pycocotools.cocoeval.COCOeval(iouType="segm")`
/// computes it (pycocotools/cocoeval.py: evaluate, accumulate, summarize): AP, AP50, AP75,
/// AP small/medium/large and the six AR numbers, in `stats` order.
public struct COCOEvaluator: Sendable {
    public struct GroundTruth: Sendable {
        public var id: Int            // >= 1 (0 would read as "unmatched")
        public var imageId: Int
        public var categoryId: Int
        public var isCrowd: Bool
        public var area: Double       // the annotation's stored area, as COCO uses it
        public var mask: RLE
        public init(id: Int, imageId: Int, categoryId: Int, isCrowd: Bool, area: Double, mask: RLE) {
            self.id = id
            self.imageId = imageId
            self.categoryId = categoryId
            self.isCrowd = isCrowd
            self.area = area
            self.mask = mask
        }
    }

    public struct Detection: Sendable {
        public var imageId: Int
        public var categoryId: Int
        public var score: Double
        public var mask: RLE
        public init(imageId: Int, categoryId: Int, score: Double, mask: RLE) {
            self.imageId = imageId
            self.categoryId = categoryId
            self.score = score
            self.mask = mask
        }
    }

    /// np.linspace(.5, .95, 10) and np.linspace(0, 1, 101), bit for bit.
    public static let iouThresholds: [Double] = (0..<10).map { (i: Int) -> Double in
        let step: Double = (0.95 - 0.5) / 9
        return i == 9 ? 0.95 : Double(i) * step + 0.5
    }
    public static let recallThresholds: [Double] = (0...100).map { (i: Int) -> Double in i == 100 ? 1 : Double(i) * 0.01 }
    static let areaRanges: [(Double, Double)] = [(0, 1e10), (0, 1024), (1024, 9216), (9216, 1e10)]
    static let maxDetections = [1, 10, 100]
    public static let statNames = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]

    public init() {}

    struct ImageEval {
        var dtScores: [Double]
        var dtMatched: [[Bool]]   // [threshold][detection]
        var dtIgnore: [[Bool]]
        var gtIgnore: [Bool]
    }

    /// The 12 `stats` of COCOeval.summarize().
    public func evaluate(imageIds: [Int], categoryIds: [Int], groundTruth: [GroundTruth], detections: [Detection]) -> [Double] {
        let images = Array(Set(imageIds)).sorted(), categories = Array(Set(categoryIds)).sorted()
        let T = Self.iouThresholds.count, R = Self.recallThresholds.count, K = categories.count, A = Self.areaRanges.count
        let M = Self.maxDetections.count
        var gtsBy: [[Int]: [GroundTruth]] = [:], dtsBy: [[Int]: [(id: Int, dt: Detection)]] = [:]
        for gt in groundTruth { gtsBy[[gt.imageId, gt.categoryId], default: []].append(gt) }
        for (index, dt) in detections.enumerated() { dtsBy[[dt.imageId, dt.categoryId], default: []].append((index + 1, dt)) }

        // evaluateImg for every (category, area range, image).
        var evals = [[[ImageEval?]]](repeating: [[ImageEval?]](repeating: [ImageEval?](repeating: nil, count: images.count), count: A), count: K)
        for (k, category) in categories.enumerated() {
            for (i, image) in images.enumerated() {
                let gts = gtsBy[[image, category]] ?? []
                // Stable sort by descending score, at most maxDets[-1].
                let dts = Array((dtsBy[[image, category]] ?? []).enumerated().sorted {
                    $0.element.dt.score != $1.element.dt.score ? $0.element.dt.score > $1.element.dt.score : $0.offset < $1.offset
                }.map(\.element).prefix(Self.maxDetections.last!))
                guard !gts.isEmpty || !dts.isEmpty else { continue }
                let ious = dts.map { d in gts.map { g in RLE.iou(detection: d.dt.mask, groundTruth: g.mask, groundTruthIsCrowd: g.isCrowd) } }
                for (a, range) in Self.areaRanges.enumerated() {
                    evals[k][a][i] = evaluateImage(gts: gts, dts: dts.map(\.dt), ious: ious, range: range)
                }
            }
        }

        // accumulate
        var precision = [Double](repeating: -1, count: T * R * K * A * M)
        var recall = [Double](repeating: -1, count: T * K * A * M)
        func pIndex(_ t: Int, _ r: Int, _ k: Int, _ a: Int, _ m: Int) -> Int { (((t * R + r) * K + k) * A + a) * M + m }
        func rIndex(_ t: Int, _ k: Int, _ a: Int, _ m: Int) -> Int { ((t * K + k) * A + a) * M + m }
        for k in 0..<K {
            for a in 0..<A {
                for (m, maxDet) in Self.maxDetections.enumerated() {
                    let present = evals[k][a].compactMap { $0 }
                    guard !present.isEmpty else { continue }
                    var scores: [Double] = [], matched: [[Bool]] = Array(repeating: [], count: T), ignored: [[Bool]] = Array(repeating: [], count: T)
                    for e in present {
                        let n = min(maxDet, e.dtScores.count)
                        scores += e.dtScores.prefix(n)
                        for t in 0..<T {
                            matched[t] += e.dtMatched[t].prefix(n)
                            ignored[t] += e.dtIgnore[t].prefix(n)
                        }
                    }
                    let order = scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
                    let positives = present.reduce(0) { $0 + $1.gtIgnore.filter { !$0 }.count }
                    guard positives > 0 else { continue }
                    let nd = order.count
                    for t in 0..<T {
                        var tp = 0.0, fp = 0.0
                        var rc = [Double](), pr = [Double]()
                        for d in order {
                            guard !ignored[t][d] else { rc.append(tp / Double(positives)); pr.append(tp / (fp + tp + 2.220446049250313e-16)); continue }
                            if matched[t][d] { tp += 1 } else { fp += 1 }
                            rc.append(tp / Double(positives))
                            pr.append(tp / (fp + tp + 2.220446049250313e-16))
                        }
                        recall[rIndex(t, k, a, m)] = nd > 0 ? rc[nd - 1] : 0
                        if nd > 1 { for i in stride(from: nd - 1, to: 0, by: -1) where pr[i] > pr[i - 1] { pr[i - 1] = pr[i] } }
                        var q = [Double](repeating: 0, count: R)
                        for (r, threshold) in Self.recallThresholds.enumerated() {
                            guard let first = rc.firstIndex(where: { $0 >= threshold }) else { break }   // IndexError: the rest stay 0
                            q[r] = pr[first]
                        }
                        for r in 0..<R { precision[pIndex(t, r, k, a, m)] = q[r] }
                    }
                }
            }
        }

        // summarize
        func mean(_ values: [Double]) -> Double {
            let kept = values.filter { $0 > -1 }
            return kept.isEmpty ? -1 : APMath.pairwiseSum(kept) / Double(kept.count)
        }
        func ap(_ threshold: Double?, _ a: Int, _ m: Int) -> Double {
            var values: [Double] = []
            for t in 0..<T where threshold == nil || Self.iouThresholds[t] == threshold {
                for r in 0..<R { for k in 0..<K { values.append(precision[pIndex(t, r, k, a, m)]) } }
            }
            return mean(values)
        }
        func ar(_ a: Int, _ m: Int) -> Double {
            var values: [Double] = []
            for t in 0..<T { for k in 0..<K { values.append(recall[rIndex(t, k, a, m)]) } }
            return mean(values)
        }
        return [ap(nil, 0, 2), ap(0.5, 0, 2), ap(0.75, 0, 2), ap(nil, 1, 2), ap(nil, 2, 2), ap(nil, 3, 2),
                ar(0, 0), ar(0, 1), ar(0, 2), ar(1, 2), ar(2, 2), ar(3, 2)]
    }

    func evaluateImage(gts: [GroundTruth], dts: [Detection], ious: [[Double]], range: (Double, Double)) -> ImageEval {
        let T = Self.iouThresholds.count
        let ignore = gts.map { $0.isCrowd || $0.area < range.0 || $0.area > range.1 }
        let gtOrder = gts.indices.filter { !ignore[$0] } + gts.indices.filter { ignore[$0] }   // stable: real ground truth first
        var gtMatched = [[Bool]](repeating: [Bool](repeating: false, count: gts.count), count: T)
        var dtMatched = [[Bool]](repeating: [Bool](repeating: false, count: dts.count), count: T)
        var dtIgnore = [[Bool]](repeating: [Bool](repeating: false, count: dts.count), count: T)
        for (t, threshold) in Self.iouThresholds.enumerated() {
            for d in dts.indices {
                var best = min(threshold, 1 - 1e-10)
                var match = -1
                for g in gtOrder {
                    if gtMatched[t][g] && !gts[g].isCrowd { continue }
                    if match > -1 && !ignore[match] && ignore[g] { break }
                    if ious[d][g] < best { continue }
                    best = ious[d][g]
                    match = g
                }
                if match != -1 {
                    dtIgnore[t][d] = ignore[match]
                    dtMatched[t][d] = true
                    gtMatched[t][match] = true
                }
            }
        }
        for d in dts.indices {
            let area = Double(dts[d].mask.area)
            if area < range.0 || area > range.1 { for t in 0..<T where !dtMatched[t][d] { dtIgnore[t][d] = true } }
        }
        return ImageEval(dtScores: dts.map(\.score), dtMatched: dtMatched, dtIgnore: dtIgnore, gtIgnore: gtOrder.map { ignore[$0] })
    }
}

extension COCOEvaluator {
    /// COCO stats for the images the Cityscapes evaluation scored: categories are
    /// the class indices + 1, ground-truth area is its pixel count, groups are crowd.
    /// (COCO has no void region: predictions on void count like any other.)
    public func evaluate(_ images: [InstanceEvaluator.Image], classCount: Int) -> [Double] {
        var gts: [GroundTruth] = [], dts: [Detection] = []
        for (index, image) in images.enumerated() {
            for gt in image.groundTruth {
                gts.append(GroundTruth(id: gts.count + 1, imageId: index + 1, categoryId: gt.classIndex + 1, isCrowd: gt.isGroup,
                                       area: Double(gt.mask.area), mask: gt.mask))
            }
            for p in image.predictions where !p.mask.isEmpty {
                dts.append(Detection(imageId: index + 1, categoryId: p.classIndex + 1, score: p.score, mask: p.mask))
            }
        }
        return evaluate(imageIds: Array(1...max(1, images.count)), categoryIds: Array(1...classCount), groundTruth: gts, detections: dts)
    }
}
