import Evaluation
import Foundation
import Network
import ShardData
import SynmixCore
import SynmixFormats

/// Runs a model on decoded samples: the image is resized to fill the input,
/// the heads are post-processed into instance masks at any requested size.
public final class Predictor: @unchecked Sendable {
    public let model: Model
    public let workspace: Workspace
    public var postProcessor = PostProcessor()

    public init(model: Model, inputWidth: Int, inputHeight: Int) {
        self.model = model
        workspace = Workspace(model: model, batch: 1, height: inputHeight, width: inputWidth)
    }

    /// Instances at `width`×`height` (default: the sample's own size).
    public func predict(_ sample: DecodedSample, width: Int? = nil, height: Int? = nil) -> [PredictedInstance] {
        var unused = SplitMix64(seed: 0)
        let prepared = Targets.prepare(sample, classes: model.config.classes, width: workspace.width, height: workspace.height,
                                       augmentation: nil, random: &unused)
        workspace.input.update(from: prepared.image, count: prepared.image.count)
        workspace.forward(training: false)
        return postProcessor.instances(heads: workspace.heads, classes: model.config.classes.count,
                                       headHeight: workspace.headHeight, headWidth: workspace.headWidth,
                                       width: width ?? sample.record.width, height: height ?? sample.record.height)
    }
}

/// Evaluation of a model on shards with the Cityscapes instance-level AP, at
/// the shards' resolution (the 100 px minimum region scaled by the area ratio).
public enum ShardEvaluation {
    public struct Outcome: Sendable {
        public var result: InstanceEvaluator.Result
        public var width: Int, height: Int               // resolution evaluated (the first sample's)
        /// Each image's 100 px minimum region scaled by its area ratio to the original: the distinct values.
        public var minRegionSizes: [Double]
        /// The images with the most errors, when asked for (`overlays` > 0).
        public var worst: ErrorOverlays
        public var json: JSON {
            var file = result.file
            file.resolution = (width, height)
            file.minRegionSizes = minRegionSizes
            return file.json
        }
    }

    /// Samples decoded ahead per job while the model runs on the previous ones (decoded images are small).
    static let samplesInFlightPerJob = 4

    /// Visits every sample of `shards` in order, decoding `jobs` at a time.
    public static func forEachSample(_ shards: [String], jobs: Int, report: (FileError) -> Void,
                                     progress: (Int) -> Void = { _ in }, _ body: (DecodedSample) throws -> Void) throws {
        var iterator = ShardStream(shards: shards, bufferSize: 1, seed: 0, shuffle: false).makeIterator(epoch: 0)
        var decoded = 0
        try orderedParallelMap(jobs: jobs, perJob: samplesInFlightPerJob, next: { iterator.next(report: report) },
                               { sample in Result { try DecodedSample(sample) } }, consume: { outcome in
            switch outcome {
            case .success(let sample): try body(sample); decoded += 1
            case .failure(let error): report(error as? FileError ?? FileError(path: "shard", reason: "\(error)"))
            }
        }, afterBatch: progress)
        guard decoded > 0 else { throw FileError(path: shards.first ?? "shards", reason: "no readable sample to evaluate") }
    }

    /// A sample's ground truth for the evaluator. An instance whose class is outside `classes` is
    /// reported (shard, key, class) and joins the ignore region, as the trainer ignores it: a
    /// prediction on it then lies on void and is no false positive, where dropping the instance
    /// silently would count it as one.
    static func groundTruth(_ sample: DecodedSample, classes: [String], scope: String,
                            report: (FileError) -> Void) -> (instances: [InstanceRecord], ignore: RLE?) {
        let record = sample.record
        guard let problem = sample.unknownClasses(classes, scope: scope) else { return (record.instances, record.ignore) }
        report(problem)
        let unknown = record.instances.filter { !classes.contains($0.className) }
        let ignore = RLE.union(unknown.map(\.mask) + (record.ignore.map { [$0] } ?? []), height: record.height, width: record.width)
        return (record.instances.filter { classes.contains($0.className) }, ignore)
    }

    public static func evaluate(_ predictor: Predictor, shards: [String], jobs: Int,
                                overlays: Int = 0, report: (FileError) -> Void, progress: (Int) -> Void = { _ in }) throws -> Outcome {
        let classes = predictor.model.config.classes
        var worst = ErrorOverlays(count: overlays, classes: classes)
        var images: [InstanceEvaluator.Image] = []
        var size: (Int, Int)?
        try forEachSample(shards, jobs: jobs, report: report, progress: progress) { sample in
            size = size ?? (sample.record.width, sample.record.height)
            let instances = predictor.predict(sample)
            worst.add(sample, instances)
            let predictions = instances.map { InstanceEvaluator.Prediction(classIndex: $0.classIndex, score: $0.score, mask: $0.mask) }
            let truth = groundTruth(sample, classes: classes, scope: "the model's classes", report: report)
            var image = InstanceEvaluator.Image(instances: truth.instances, ignore: truth.ignore, classNames: classes, predictions: predictions)
            image.minRegionSize = InstanceEvaluator.minRegionSize(width: sample.record.width, height: sample.record.height,
                                                                  originalWidth: sample.record.originalWidth, originalHeight: sample.record.originalHeight)
            images.append(image)
        }
        let result = InstanceEvaluator(classNames: classes).evaluate(images)
        return Outcome(result: result, width: size!.0, height: size!.1,
                       minRegionSizes: Set(images.compactMap(\.minRegionSize)).sorted(), worst: worst)
    }

    /// Scores results-format predictions — any system's: `train-shards predict`, `synmix_torch.predict`,
    /// Detectron2's — against the shards' own ground truth, with the official AP over the 8 evaluated
    /// classes. Image NAME (the record id's last part, as both predictors name it) has its masks at the
    /// record's original size, as the format says; where the shards hold a smaller copy, each mask is
    /// resampled by nearest neighbour to the shard's resolution and the 100 px minimum region scaled by
    /// the area ratio, as `evaluate --model` scores. A sample without its prediction file, or whose file
    /// is bad, is reported and skipped.
    public static func evaluate(predictions folder: String, shards: [String], jobs: Int,
                                report: (FileError) -> Void, progress: (Int) -> Void = { _ in }) throws -> Outcome {
        let root = Files.absolute(folder)
        guard Files.isDirectory(root) else { throw FileError(path: root, reason: "no such predictions folder") }
        let txtFiles = CityscapesEvaluation.walk(root).filter { $0.hasSuffix(".txt") }
        let classes = CityscapesEvaluation.classes.map(\.name)
        var images: [InstanceEvaluator.Image] = []
        var size: (Int, Int)?
        var owners: [String: String] = [:]   // image name -> the sample key that has it
        try forEachSample(shards, jobs: jobs, report: report, progress: progress) { sample in
            let record = sample.record
            let name = Files.safeName(String(record.id.split(separator: "/").last ?? Substring(sample.key)))
            if let other = owners[name] {
                report(FileError(path: "\(root)/\(name)", reason: "samples \(other) and \(sample.key) both have image name \(name): the second is skipped"))
                return
            }
            owners[name] = sample.key
            let predictions: [InstanceEvaluator.Prediction]
            do {
                predictions = try CityscapesEvaluation.predictions(forImage: name, txtFiles: txtFiles, root: root,
                                                                   width: record.originalWidth, height: record.originalHeight)
            } catch {
                report(FileError(path: root, reason: "sample \(sample.key): \(error)"))
                return
            }
            let resampled = predictions.map { prediction -> InstanceEvaluator.Prediction in
                guard prediction.mask.width != record.width || prediction.mask.height != record.height else { return prediction }
                let mask = Resize.masks([prediction.mask], ignore: nil, width: record.width, height: record.height).instances[0]
                return InstanceEvaluator.Prediction(classIndex: prediction.classIndex, score: prediction.score,
                                                    mask: mask ?? RLE.empty(height: record.height, width: record.width))
            }
            size = size ?? (record.width, record.height)
            let truth = groundTruth(sample, classes: classes, scope: "the evaluated classes", report: report)
            var image = InstanceEvaluator.Image(instances: truth.instances, ignore: truth.ignore, classNames: classes, predictions: resampled)
            image.minRegionSize = InstanceEvaluator.minRegionSize(width: record.width, height: record.height,
                                                                  originalWidth: record.originalWidth, originalHeight: record.originalHeight)
            images.append(image)
        }
        guard let size else { throw FileError(path: root, reason: "no sample of the shards has readable predictions") }
        let result = InstanceEvaluator(classNames: classes).evaluate(images)
        return Outcome(result: result, width: size.0, height: size.1, minRegionSizes: Set(images.compactMap(\.minRegionSize)).sorted(),
                       worst: ErrorOverlays(count: 0, classes: classes))
    }

    /// Writes predictions in the Cityscapes results format at each image's original size:
    /// `NAME_pred.txt` with lines `masks/NAME_I.png LABELID SCORE`, masks 8-bit 0/255.
    /// Returns the number of images written.
    @discardableResult
    public static func writePredictions(_ predictor: Predictor, shards: [String], to folder: String, jobs: Int,
                                        report: (FileError) -> Void, progress: (Int) -> Void = { _ in }) throws -> Int {
        try Files.createDirectory("\(folder)/masks")
        var written = 0
        try forEachSample(shards, jobs: jobs, report: report, progress: progress) { sample in
            let name = Files.safeName(String(sample.record.id.split(separator: "/").last ?? Substring(sample.key)))
            let instances = predictor.predict(sample, width: sample.record.originalWidth, height: sample.record.originalHeight)
            try CityscapesEvaluation.writePredictions(image: name, instances.map {
                (predictor.model.config.classes[$0.classIndex], $0.score, $0.mask)
            }, to: folder)
            written += 1
        }
        return written
    }
}
