import Foundation
import SynmixCore

/// `fit`'s `metrics.json`: the model and training settings, the losses of
/// every step, every evaluation, timing and the skipped samples. Rewritten at
/// every checkpoint, so a resumed run continues its own log.
public struct TrainingMetrics: Sendable {
    public static let fileName = "metrics.json"

    /// A step's loss, weighted total and its three parts.
    public struct Losses: Sendable, Equatable {
        public var total: Float, semantic: Float, center: Float, offset: Float

        public init(total: Float, semantic: Float, center: Float, offset: Float) {
            (self.total, self.semantic, self.center, self.offset) = (total, semantic, center, offset)
        }
    }

    public struct Step: Sendable, Equatable {
        public var step: Int
        public var loss: Losses
        public var learningRate: Float

        public init(step: Int, loss: Losses, learningRate: Float) {
            (self.step, self.loss, self.learningRate) = (step, loss, learningRate)
        }
    }

    public struct Evaluation: Sendable {
        public var step: Int
        public var name: String
        /// An `EvaluationResult`'s JSON with the trainer's extras (resolution, minimum region sizes).
        public var result: JSON

        public init(step: Int, name: String, result: JSON) {
            (self.step, self.name, self.result) = (step, name, result)
        }
    }

    public struct Timing: Sendable, Equatable {
        public var imagesPerSecond: Double
        public var dataWaitShare: Double
        public var seconds: Double

        public init(imagesPerSecond: Double, dataWaitShare: Double, seconds: Double) {
            (self.imagesPerSecond, self.dataWaitShare, self.seconds) = (imagesPerSecond, dataWaitShare, seconds)
        }
    }

    /// fit's options as metrics.json's `training` holds them (`fit --resume` compares every one but `threads`).
    public struct Settings: Sendable {
        public struct Source: Sendable { public var name: String, shards: [String]
            public init(name: String, shards: [String]) { (self.name, self.shards) = (name, shards) } }
        public var train: [Source], shares: [Double]?, eval: [Source]
        public var steps: Int?, epochs: Int?, batch: Int, inputSize: (width: Int, height: Int)
        public var learningRate: Double, warmupFraction: Double, schedule: String
        public var seed: UInt64, threads: Int, initFrom: String?, augment: Bool, centerSigma: Double
        /// The weights of the semantic, centre and offset losses.
        public var lossWeights: (semantic: Double, center: Double, offset: Double)

        public init(train: [Source], shares: [Double]?, eval: [Source], steps: Int?, epochs: Int?, batch: Int, inputSize: (width: Int, height: Int),
                    learningRate: Double, warmupFraction: Double, schedule: String, seed: UInt64, threads: Int, initFrom: String?,
                    augment: Bool, centerSigma: Double, lossWeights: (semantic: Double, center: Double, offset: Double)) {
            (self.train, self.shares, self.eval, self.steps, self.epochs, self.batch) = (train, shares, eval, steps, epochs, batch)
            (self.inputSize, self.learningRate, self.warmupFraction, self.schedule) = (inputSize, learningRate, warmupFraction, schedule)
            (self.seed, self.threads, self.initFrom, self.augment, self.centerSigma, self.lossWeights) = (seed, threads, initFrom, augment, centerSigma, lossWeights)
        }

        public var json: JSON {
            func sources(_ list: [Source]) -> JSON {
                .array(list.map { .object([("name", .string($0.name)), ("shards", .array($0.shards.map { .string($0) }))]) })
            }
            return .object([
                ("train", sources(train)), ("shares", shares.map { .array($0.map { .double($0) }) } ?? .null), ("eval", sources(eval)),
                ("steps", steps.map { .int($0) } ?? .null), ("epochs", epochs.map { .int($0) } ?? .null),
                ("batch", .int(batch)), ("input_size", .array([.int(inputSize.width), .int(inputSize.height)])),
                ("lr", .double(learningRate)), ("warmup_fraction", .double(warmupFraction)), ("schedule", .string(schedule)),
                ("seed", .int(Int(seed))), ("threads", .int(threads)), ("init", initFrom.map { .string($0) } ?? .null),
                ("augment", .bool(augment)), ("center_sigma", .double(centerSigma)),
                ("loss_weights", .object([("semantic", .double(lossWeights.semantic)), ("center", .double(lossWeights.center)),
                                          ("offset", .double(lossWeights.offset))])),
            ])
        }
    }

    /// What a reader checks a run against (the demo's --report-only): its seed, batch, input size `WxH`,
    /// learning rate and width, as `training` and `model` record them (nil where they do not).
    public var recordedSeed: Int? { training["seed"]?.intValue }
    public var recordedBatch: Int? { training["batch"]?.intValue }
    public var recordedInputSize: String? {
        training["input_size"]?.arrayValue.map { $0.map { $0.intValue.map(String.init) ?? "?" }.joined(separator: "x") }
    }
    public var recordedLearningRate: Double? { training["lr"]?.doubleValue }
    public var recordedWidth: Int? { model["width"]?.intValue }
    /// The share of the steps the learning rate warmed up over (fit's schedule).
    public var recordedWarmupFraction: Double? { training["warmup_fraction"]?.doubleValue }

    /// `ModelConfig.json` and the `Settings` of the run.
    public var model: JSON
    public var training: JSON
    public var steps: [Step] = []
    public var evaluations: [Evaluation] = []
    public var timing = Timing(imagesPerSecond: 0, dataWaitShare: 0, seconds: 0)
    public var skipped: [FileError] = []

    public init(model: JSON, training: JSON) {
        self.model = model
        self.training = training
    }

    public var json: JSON {
        .object([
            ("model", model),
            ("training", training),
            ("steps", .array(steps.map {
                .object([("step", .int($0.step)), ("loss", .double(Double($0.loss.total))), ("semantic", .double(Double($0.loss.semantic))),
                         ("center", .double(Double($0.loss.center))), ("offset", .double(Double($0.loss.offset))),
                         ("lr", .double(Double($0.learningRate)))])
            })),
            ("evaluations", .array(evaluations.map { .object([("step", .int($0.step)), ("name", .string($0.name)), ("result", $0.result)]) })),
            ("timing", .object([("images_per_second", .double(timing.imagesPerSecond)), ("data_wait_share", .double(timing.dataWaitShare)),
                                ("seconds", .double(timing.seconds))])),
            ("skipped", .array(skipped.map(\.json))),
        ])
    }

    public init(json value: JSON, file: String) throws {
        func fail(_ reason: String) -> FileError { FileError(path: file, reason: reason) }
        guard let model = value["model"], let training = value["training"], let steps = value["steps"]?.arrayValue,
              let evaluations = value["evaluations"]?.arrayValue, let timing = value["timing"],
              let skipped = value["skipped"]?.arrayValue else {
            throw fail("not a training metrics.json (needs model, training, steps, evaluations, timing, skipped)")
        }
        self.model = model
        self.training = training
        self.steps = try steps.map { entry in
            guard let step = entry["step"]?.intValue else { throw fail("a step entry has no step") }
            func number(_ key: String) -> Float { Float(entry[key]?.doubleValue ?? .nan) }
            return Step(step: step, loss: Losses(total: number("loss"), semantic: number("semantic"), center: number("center"),
                                                        offset: number("offset")), learningRate: number("lr"))
        }
        self.evaluations = try evaluations.map { entry in
            guard let step = entry["step"]?.intValue, let name = entry["name"]?.stringValue, let result = entry["result"] else {
                throw fail("an evaluation entry lacks step, name or result")
            }
            return Evaluation(step: step, name: name, result: result)
        }
        self.timing = Timing(imagesPerSecond: timing["images_per_second"]?.doubleValue ?? 0,
                             dataWaitShare: timing["data_wait_share"]?.doubleValue ?? 0, seconds: timing["seconds"]?.doubleValue ?? 0)
        self.skipped = try skipped.map { try FileError(json: $0, file: file) }
    }

    public static func read(folder: String) throws -> TrainingMetrics {
        let path = "\(folder)/\(fileName)"
        let value: JSON
        let bytes = try Files.read(path)
        do { value = try JSON.parse(bytes) } catch { throw FileError(path: path, reason: "not valid JSON (damaged or truncated?): \(error)") }
        return try TrainingMetrics(json: value, file: path)
    }

    public func write(folder: String) throws {
        try Files.writeAtomically(json.pretty, to: "\(folder)/\(Self.fileName)")
    }

    /// The last evaluation on the set `name`.
    public func lastEvaluation(_ name: String, file: String) throws -> EvaluationResult {
        guard let result = evaluations.last(where: { $0.name == name })?.result else {
            throw FileError(path: file, reason: "no evaluation on \(name)")
        }
        return try EvaluationResult(json: result, file: file)
    }

    /// The steps and evaluations up to `step` (a resume continues from its checkpoint).
    public func entries(upTo step: Int) -> (steps: [Step], evaluations: [Evaluation]) {
        (steps.filter { $0.step <= step }, evaluations.filter { $0.step <= step })
    }
}
