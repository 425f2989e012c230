import Foundation
import Pictures
import ShardData
import SynmixCore

/// The images a model gets most wrong, drawn for a person to look at: ground truth on the
/// left (misses hatched in red with a dashed box), predictions on the right (false positives
/// hatched in red with a dashed box), each instance outlined in its class colour.
///
/// Errors are counted at IoU 0.5 (the AP50 criterion) among predictions scoring at least
/// `minimumScore`: a prediction that matches no same-class ground truth (and lies mostly
/// outside crowd and ignore regions) is a false positive, a non-crowd ground truth that no
/// prediction matches is a miss. Only the K worst images are kept in memory.
public struct ErrorOverlays: Sendable {
    public let count: Int
    public let classes: [String]
    public var minimumScore = 0.3
    /// The kept images with their errors (counted once, when the image is added).
    var worst: [(errors: Int, id: String, sample: DecodedSample, predictions: [PredictedInstance],
                 falsePositives: Set<Int>, misses: Set<Int>)] = []

    public init(count: Int, classes: [String]) {
        self.count = count
        self.classes = classes
    }

    /// The errors of one image: which predictions are false positives, which ground truths are missed.
    func errors(_ sample: DecodedSample, _ predictions: [PredictedInstance]) -> (falsePositives: Set<Int>, misses: Set<Int>) {
        let truths = sample.record.instances
        var matched: Set<Int> = [], falsePositives: Set<Int> = []
        let order = predictions.indices.filter { predictions[$0].score >= minimumScore }.sorted { predictions[$0].score > predictions[$1].score }
        for p in order {
            let prediction = predictions[p], name = classes[prediction.classIndex]
            var best: (truth: Int, iou: Double)?
            for (t, truth) in truths.enumerated() where truth.className == name && !truth.isCrowd && !matched.contains(t) {
                let iou = RLE.iou(detection: prediction.mask, groundTruth: truth.mask, groundTruthIsCrowd: false)
                if iou >= 0.5, iou > (best?.iou ?? 0) { best = (t, iou) }
            }
            if let best {
                matched.insert(best.truth)
                continue
            }
            // Mostly on a crowd region or the ignore region: neither right nor wrong, as in the evaluation.
            var ignored = sample.record.ignore.map { prediction.mask.intersectionArea($0) } ?? 0
            for truth in truths where truth.isCrowd && truth.className == name { ignored += prediction.mask.intersectionArea(truth.mask) }
            if 2 * ignored < prediction.mask.area { falsePositives.insert(p) }
        }
        let misses = Set(truths.indices.filter { !truths[$0].isCrowd && !matched.contains($0) && classes.contains(truths[$0].className) })
        return (falsePositives, misses)
    }

    mutating func add(_ sample: DecodedSample, _ predictions: [PredictedInstance]) {
        guard count > 0 else { return }
        let (falsePositives, misses) = errors(sample, predictions)
        let total = falsePositives.count + misses.count
        guard total > 0 else { return }
        worst.append((total, sample.record.id, sample, predictions, falsePositives, misses))
        worst.sort { ($0.errors, $1.id) > ($1.errors, $0.id) }
        if worst.count > count { worst.removeLast() }
    }

    /// Writes `folder/NAME.png` for each kept image, worst first; returns the paths.
    public func write(to folder: String) throws -> [String] {
        try Files.createDirectory(folder)
        return try worst.enumerated().map { rank, entry in
            let path = "\(folder)/\(String(format: "%02d", rank + 1))-\(Files.safeName(entry.id)).png"
            try draw(entry.sample, entry.predictions, falsePositives: entry.falsePositives, misses: entry.misses, to: path)
            return path
        }
    }

    func draw(_ sample: DecodedSample, _ predictions: [PredictedInstance], falsePositives: Set<Int>, misses: Set<Int>,
              to path: String) throws {
        let (width, height) = (sample.record.width, sample.record.height)
        let scale = width < 512 ? 2.0 : 1.0   // small shards are hard to read at 1:1
        let panelWidth = Double(width) * scale, panelHeight = Double(height) * scale
        let fontSize = max(11, panelWidth / 60)
        let legend = fontSize * 3.2
        let canvas = try Canvas(width: Int(2 * panelWidth + 8), height: Int(panelHeight + legend))
        func color(_ name: String) -> (Double, Double, Double) {
            Canvas.categorical[(classes.firstIndex(of: name) ?? 0) % Canvas.categorical.count]
        }
        let red = (0.9, 0.1, 0.1)
        func mark(_ mask: RLE, x: Double, label: String) {
            canvas.hatch(mask, x: x, scale: scale)
            let box = mask.bbox.map { Double($0) * scale }
            canvas.setColor(red)
            canvas.box(x: x + box[0] - 2, y: box[1] - 2, width: box[2] + 4, height: box[3] + 4, dashed: true)
            // The label on a dark band, so it reads on any background.
            let baseline = max(fontSize, box[1] - 4), size = fontSize * 0.8
            canvas.setColor((0.05, 0.05, 0.05), alpha: 0.75)
            canvas.rectangle(x: x + box[0] - 1, y: baseline - size, width: canvas.textWidth(label, size: size) + 2, height: size * 1.25)
            canvas.setColor((1, 0.35, 0.35))
            canvas.text(label, x: x + box[0], y: baseline, size: size)
        }
        // Left: ground truth.
        canvas.draw(sample.pixels, scale: scale)
        for (t, truth) in sample.record.instances.enumerated() {
            canvas.setColor(color(truth.className))
            canvas.outline(truth.mask, scale: scale)
            if misses.contains(t) { mark(truth.mask, x: 0, label: "miss \(truth.className)") }
        }
        // Right: predictions.
        let right = panelWidth + 8
        canvas.draw(sample.pixels, x: right, scale: scale)
        for (p, prediction) in predictions.enumerated() where prediction.score >= minimumScore {
            let name = classes[prediction.classIndex]
            canvas.setColor(color(name))
            canvas.outline(prediction.mask, x: right, scale: scale)
            if falsePositives.contains(p) { mark(prediction.mask, x: right, label: String(format: "FP %@ %.2f", name, prediction.score)) }
        }
        canvas.setColor((0.95, 0.95, 0.95))
        canvas.text("\(sample.record.id): ground truth (left), predictions scoring ≥ \(minimumScore) (right); "
                    + "\(misses.count) missed, \(falsePositives.count) false positive(s) at IoU 0.5",
                    x: fontSize * 0.6, y: panelHeight + fontSize * 1.3, size: fontSize)
        var x = fontSize * 0.6
        for name in classes {
            canvas.setColor(color(name))
            canvas.rectangle(x: x, y: panelHeight + fontSize * 2.0, width: fontSize * 0.8, height: fontSize * 0.8)
            canvas.setColor((0.95, 0.95, 0.95))
            canvas.text(name, x: x + fontSize, y: panelHeight + fontSize * 2.8, size: fontSize * 0.9)
            x += fontSize * 1.6 + canvas.textWidth(name, size: fontSize * 0.9)
        }
        try canvas.writePNG(to: path)
    }
}
