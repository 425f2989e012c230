import COpenBLAS
import Evaluation
import Foundation
import Network
import ShardData
import SynmixCore
import SynmixFormats

/// Everything `train-shards fit` takes.
public struct FitOptions: Sendable {
    public var sources: [TrainingSource]
    /// Share of each source per batch (same order as `sources`); nil: uniform over their union.
    public var shares: [Double]?
    public var evaluations: [(name: String, shards: [String])] = []
    public var out: String
    public var steps: Int?
    public var epochs: Int?
    public var batch = 8
    public var inputWidth = 256, inputHeight = 128
    public var learningRate: Float = 3e-3
    public var warmupFraction = 0.1
    public var seed: UInt64 = 1
    public var threads = 2
    public var config: ModelConfig
    public var initFrom: String?
    public var resume = false
    public var evaluateEvery: Int?
    public var checkpointEvery = 100
    public var augment = true
    public var centerSigma = Targets.defaultSigma
    /// Bytes of decoded training samples the loader keeps across epochs (`DecodedSamples`).
    public var decodedCacheBytes = DecodedSamples.defaultBudget
    public var lossWeights = LossWeights()
    public var logEvery = 10

    /// Each source's share of a batch, from `NAME=F` pairs (`--share`): the named sources get theirs, the others
    /// split what is left evenly; every name must be a source's and the shares must add up to 1.
    public static func shares(_ named: [(name: String, value: String)], of sources: [TrainingSource]) throws -> [Double] {
        var shares = [Double](repeating: 0, count: sources.count)
        for (name, text) in named {
            guard let value = Double(text), value >= 0, let index = sources.firstIndex(where: { $0.name == name }) else {
                throw FitError("--share \(name)=\(text): expected NAME=F with NAME one of \(sources.map(\.name))")
            }
            shares[index] = value
        }
        let given = shares.reduce(0, +)
        guard given <= 1 + 1e-9 else { throw FitError("shares add up to \(given), more than 1") }
        let unnamed = sources.indices.filter { i in !named.contains { $0.name == sources[i].name } }
        for i in unnamed { shares[i] = (1 - given) / Double(unnamed.count) }
        guard abs(shares.reduce(0, +) - 1) < 1e-9 else { throw FitError("shares add up to \(given), not 1") }
        return shares
    }

    /// The network to train: `width` if given, else the `--init` checkpoint's (a fine-tuning run keeps the width
    /// it starts from, either trainer's), else the default; the classes from `taxonomy` if given, else from the
    /// shards' index.json, else from the default mappings.
    public static func model(width: Int?, initFrom: String?, taxonomy: String?, shards: [String]) throws -> ModelConfig {
        let width = try width ?? initFrom.map { try Checkpoint.config(at: $0).width } ?? ModelConfig.defaultWidth
        if taxonomy == nil, let named = try ShardIndex.commonTaxonomy(of: shards) {
            return ModelConfig(width: width, classes: named.instanceClasses)
        }
        guard let path = taxonomy ?? Files.defaultMappingsDirectory().map({ "\($0)/taxonomy.yaml" }) else {
            throw FitError("the shards' index.json names no taxonomy and no mappings folder was found: pass --taxonomy FILE")
        }
        return ModelConfig(width: width, classes: try Taxonomy(contentsOf: path).classes.filter(\.hasInstances).map(\.name))
    }

    /// Every optional setting at its default (no sources, no output): what `train-shards fit --help` shows.
    public static var defaults: FitOptions { FitOptions(sources: [], out: "", config: ModelConfig(classes: [])) }

    public init(sources: [TrainingSource], out: String, config: ModelConfig) {
        self.sources = sources
        self.out = out
        self.config = config
    }

    var input: Checkpoint.Input { Checkpoint.Input(width: inputWidth, height: inputHeight) }

    var json: JSON {
        TrainingMetrics.Settings(
            train: sources.map { .init(name: $0.name, shards: $0.shards) }, shares: shares,
            eval: evaluations.map { .init(name: $0.name, shards: $0.shards) }, steps: steps, epochs: epochs, batch: batch,
            inputSize: (inputWidth, inputHeight), learningRate: Double(learningRate), warmupFraction: warmupFraction,
            schedule: "linear warm-up, cosine", seed: seed, threads: threads, initFrom: initFrom, augment: augment,
            centerSigma: Double(centerSigma),
            lossWeights: (Double(lossWeights.semantic), Double(lossWeights.center), Double(lossWeights.offset))).json
    }
}

/// A fit that cannot start: the options contradict each other (not a file's fault).
public struct FitError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// What a finished run measured.
public struct FitSummary: Sendable {
    public var steps: Int
    public var finalLoss: Float
    public var imagesPerSecond: Double
    public var dataWaitShare: Double
    public var evaluations: [(name: String, step: Int, outcome: ShardEvaluation.Outcome)]
    /// Every input skipped during the run, once each (a damaged shard is met again every epoch).
    public var skipped: [FileError]
}

/// The training loop (llm.c's train_gpt2.c in spirit): load batch, forward,
/// losses, backward, AdamW; evaluate, log and checkpoint at fixed steps.
public enum Trainer {
    public static func fit(_ options: FitOptions, log: @escaping @Sendable (String) -> Void) throws -> FitSummary {
        let latest = try checkStart(options)
        // The layers split each batch over threads themselves; OpenBLAS runs inside one.
        openblas_set_num_threads(1)
        try Files.createDirectory("\(options.out)/checkpoints")
        let totalSteps = try stepCount(options)
        let model = Model(config: options.config, seed: Seed.derive(options.seed, "initialisation"))
        var optimizer = AdamW(parameterCount: model.parameterTotal, learningRate: options.learningRate, totalSteps: totalSteps)
        optimizer.warmupSteps = Int(Double(totalSteps) * options.warmupFraction)

        var metrics = TrainingMetrics(model: options.config.json, training: options.json)
        var startStep = 0, cursor: LoaderCursor?
        if options.resume && latest == nil {
            log("--resume: no checkpoint in \(options.out)/checkpoints yet, starting from the beginning")
        }
        if options.resume, let latest {
            (startStep, cursor) = try restore(latest, into: model, optimizer: &optimizer, metrics: &metrics, options: options,
                                               totalSteps: totalSteps)
            log("resumed from \(latest) at step \(startStep)")
        } else if let initFrom = options.initFrom {
            try Checkpoint.load(initFrom, into: model)
            log("initialised from \(initFrom)")
        }

        let errors = ErrorLog(log: log)
        var settings = BatchLoader.Settings(batch: options.batch, width: options.inputWidth, height: options.inputHeight,
                                            classes: options.config.classes, augmentation: options.augment ? Augmentation() : nil,
                                            seed: options.seed, jobs: max(1, options.threads), shares: options.shares)
        settings.centerSigma = options.centerSigma
        settings.decodedCacheBytes = options.decodedCacheBytes
        let loader = try BatchLoader(sources: options.sources, settings: settings, cursor: cursor, step: startStep,
                                     report: { errors.add($0) })
        defer { loader.stop() }
        let workspace = Workspace(model: model, batch: options.batch, height: options.inputHeight, width: options.inputWidth,
                                  threads: options.threads)
        let objective = Objective(workspace: workspace, weights: options.lossWeights)
        let predictor = Predictor(model: model, inputWidth: options.inputWidth, inputHeight: options.inputHeight)
        let evaluateEvery = options.evaluateEvery ?? totalSteps
        log("model \(options.config) with \(model.parameterTotal) parameters; \(totalSteps) steps of \(options.batch) at "
            + "\(options.inputWidth)x\(options.inputHeight), \(options.threads) thread(s)")

        var summary = FitSummary(steps: totalSteps, finalLoss: .nan, imagesPerSecond: 0, dataWaitShare: 0, evaluations: [], skipped: [])
        var waiting = 0.0, computing = 0.0
        let started = Date()
        var lastCursor = cursor ?? LoaderCursor(sources: options.shares == nil ? 1 : options.sources.count)
        func evaluateAll(step: Int) throws {
            for evaluation in options.evaluations {
                let outcome = try ShardEvaluation.evaluate(predictor, shards: evaluation.shards, jobs: options.threads) { errors.add($0) }
                summary.evaluations.append((evaluation.name, step, outcome))
                metrics.evaluations.append(TrainingMetrics.Evaluation(step: step, name: evaluation.name, result: outcome.json))
                log(String(format: "eval %@ at step %d: AP %.3f AP50 %.3f (%d images at %dx%d)", evaluation.name, step,
                           outcome.result.meanAP, outcome.result.meanAP50, outcome.result.images, outcome.width, outcome.height))
            }
        }
        for step in startStep..<totalSteps {
            let t0 = Date()
            let batch = try loader.next()
            let t1 = Date()
            batch.images.withUnsafeBufferPointer { workspace.input.update(from: $0.baseAddress!, count: $0.count) }
            model.zeroGradients()
            workspace.forward(training: true)
            let loss = objective.evaluate(batch)
            workspace.backward()
            optimizer.update(model.parameters, UnsafeBufferPointer(model.gradients), parts: workspace.threads)
            let t2 = Date()
            waiting += t1.timeIntervalSince(t0)
            computing += t2.timeIntervalSince(t1)
            lastCursor = batch.cursor
            guard loss.total.isFinite else { throw FileError(path: options.out, reason: "the loss diverged at step \(step + 1)") }
            metrics.steps.append(TrainingMetrics.Step(step: step + 1, loss: TrainingMetrics.Losses(total: loss.total, semantic: loss.semantic, center: loss.center, offset: loss.offset), learningRate: optimizer.rate(at: step + 1)))
            summary.finalLoss = loss.total
            let done = step + 1
            if done % options.logEvery == 0 || done == totalSteps {
                let rate = Double((done - startStep) * options.batch) / Date().timeIntervalSince(started)
                log(progressLine(step: done, of: totalSteps, loss: loss, rate: optimizer.rate(at: done), imagesPerSecond: rate,
                                 batch: options.batch, waitShare: waiting / max(1e-9, waiting + computing)))
            }
            if done % evaluateEvery == 0 && done != totalSteps { try evaluateAll(step: done) }
            if done % options.checkpointEvery == 0 || done == totalSteps {
                // Metrics first: whenever a checkpoint exists, the losses up to its step are on disk.
                metrics.timing = timing(done - startStep, options.batch, waiting, computing)
                metrics.skipped = errors.all
                try metrics.write(folder: options.out)
                try saveCheckpoint(model, optimizer: optimizer, step: done, cursor: lastCursor, options: options)
            }
        }
        try evaluateAll(step: totalSteps)
        try Checkpoint.save(model, to: "\(options.out)/model.safetensors", input: options.input)
        metrics.timing = timing(totalSteps - startStep, options.batch, waiting, computing)
        metrics.skipped = errors.all
        try metrics.write(folder: options.out)
        summary.imagesPerSecond = metrics.timing.imagesPerSecond
        summary.dataWaitShare = metrics.timing.dataWaitShare
        summary.skipped = errors.distinct
        return summary
    }

    /// Refuses options that cannot train, and a fresh run into a folder that holds another (a later --resume
    /// would continue whichever has the highest step); the folder's latest training checkpoint, if any.
    static func checkStart(_ options: FitOptions) throws -> String? {
        guard !options.sources.isEmpty, options.sources.allSatisfy({ !$0.shards.isEmpty }) else {
            throw FitError("no training shards given (--train)")
        }
        if let problem = Checkpoint.Input.problem(width: options.inputWidth, height: options.inputHeight) {
            throw FitError("--input-size \(problem)")
        }
        guard (1...ModelConfig.maxWidth).contains(options.config.width) else {
            throw FitError("--width \(options.config.width) is outside 1...\(ModelConfig.maxWidth)")
        }
        let latest = latestCheckpoint(in: "\(options.out)/checkpoints")
        if !options.resume, let earlier = [latest, "\(options.out)/\(TrainingMetrics.fileName)",
                                            "\(options.out)/model.safetensors"].compactMap({ $0 }).first(where: Files.exists) {
            throw FitError("\(options.out) holds an earlier run (\(earlier)): continue it with --resume, or train into a new --out")
        }
        return latest
    }

    /// Continues the interrupted run whose latest checkpoint is `latest`: its weights, AdamW state and log up to
    /// that step; the step and data position to go on from. Every option that shapes training must be the run's.
    static func restore(_ latest: String, into model: Model, optimizer: inout AdamW, metrics: inout TrainingMetrics, options: FitOptions,
                        totalSteps: Int) throws -> (step: Int, cursor: LoaderCursor) {
        // The interrupted run's metrics.json (written before each checkpoint) holds its options.
        let metricsPath = "\(options.out)/\(TrainingMetrics.fileName)"
        guard Files.exists(metricsPath) else {
            throw FileError(path: metricsPath, reason: "missing: --resume needs the interrupted run's log to check its options and continue it")
        }
        let earlier = try TrainingMetrics.read(folder: options.out)
        let changed = differingOptions(stored: earlier.training, current: options.json)
            + differingOptions(stored: earlier.model, current: options.config.json).map { "model \($0)" }
        guard changed.isEmpty else {
            throw FitError("--resume: \(options.out) was trained with other options (\(changed.joined(separator: "; "))); "
                           + "resume with the same options (only --jobs may differ), or train into a new --out")
        }
        guard let state = try Checkpoint.load(latest, into: model) else {
            throw FileError(path: latest, reason: "not a training checkpoint (no optimizer state)")
        }
        guard state.step <= totalSteps else {
            throw FileError(path: latest, reason: "its step \(state.step) is past this run's \(totalSteps) steps")
        }
        if let input = state.input, (input.width, input.height) != (options.inputWidth, options.inputHeight) {
            throw FileError(path: latest, reason: "trained at \(input.width)x\(input.height), this run's --input-size is "
                            + "\(options.inputWidth)x\(options.inputHeight)")
        }
        optimizer.restore(step: state.optimizerStep, m: state.m, v: state.v)
        // The log of the interrupted run up to its checkpoint continues.
        (metrics.steps, metrics.evaluations) = earlier.entries(upTo: state.step)
        return (state.step, state.cursor)
    }

    /// One progress line: step, losses, learning rate, throughput, the share of time spent waiting for data, ETA.
    static func progressLine(step: Int, of totalSteps: Int, loss: LossBreakdown, rate: Float, imagesPerSecond: Double, batch: Int,
                             waitShare: Double) -> String {
        let eta = Double((totalSteps - step) * batch) / max(imagesPerSecond, 1e-9)
        return String(format: "step %d/%d  loss %.4f (sem %.4f ctr %.5f off %.4f)  lr %.2e  %.1f img/s  data wait %.1f%%  eta %@",
                      step, totalSteps, loss.total, loss.semantic, loss.center, loss.offset, rate, imagesPerSecond, 100 * waitShare,
                      duration(eta))
    }

    /// Steps from --steps, or from --epochs over the counted samples of the union.
    static func stepCount(_ options: FitOptions) throws -> Int {
        if let steps = options.steps {
            guard steps > 0 else { throw FitError("--steps must be positive") }
            return steps
        }
        guard let epochs = options.epochs, epochs > 0 else { throw FitError("give --steps or --epochs") }
        guard options.shares == nil else { throw FitError("with --share, give --steps (an epoch of which source?)") }
        // pack-mix's index.json beside the shards has each one's sample count; shards without one are read.
        var indexes: [String: [String: Int]] = [:]
        var samples = 0
        for shard in options.sources.flatMap(\.shards) {
            let folder = (shard as NSString).deletingLastPathComponent, name = (shard as NSString).lastPathComponent
            if indexes[folder] == nil {
                let entries = (try? ShardIndex.read(folder: folder))?.shards ?? []
                indexes[folder] = Dictionary(entries.map { ($0.name, $0.samples) }, uniquingKeysWith: { a, _ in a })
            }
            if let count = indexes[folder]?[name] {
                samples += count
            } else if let reader = try? ShardReader(path: shard) {
                while reader.next(report: { _ in }) != nil { samples += 1 }
            }
        }
        guard samples > 0 else { throw FileError(path: options.sources[0].shards[0], reason: "no samples in the training shards") }
        return (epochs * samples + options.batch - 1) / options.batch
    }

    /// The options of `current` whose value differs from `stored`, as "NAME (A there, B now)". `threads`
    /// is left out (results do not depend on it); a key `stored` lacks (an older writer) is not compared.
    static func differingOptions(stored: JSON, current: JSON) -> [String] {
        guard case .object(let pairs) = current else { return [] }
        // Compared as written and read back, so 2.0 and 2 are the same number.
        func canonical(_ value: JSON) -> String { (try? JSON.parse(Array(value.compact.utf8)))?.compact ?? value.compact }
        return pairs.compactMap { key, value in
            guard key != "threads", let old = stored[key], canonical(old) != canonical(value) else { return nil }
            return "\(key) (\(canonical(old)) there, \(canonical(value)) now)"
        }
    }

    static func latestCheckpoint(in folder: String) -> String? {
        Files.list(folder).filter { $0.hasPrefix("step-") && $0.hasSuffix(".safetensors") }.sorted().last.map { "\(folder)/\($0)" }
    }

    /// Writes `checkpoints/step-NNNNNN.safetensors` and keeps the two most recent.
    static func saveCheckpoint(_ model: Model, optimizer: AdamW, step: Int, cursor: LoaderCursor, options: FitOptions) throws {
        let folder = "\(options.out)/checkpoints"
        let state = Checkpoint.TrainingState(step: step, optimizerStep: optimizer.step, m: optimizer.m, v: optimizer.v, cursor: cursor)
        try Checkpoint.save(model, to: String(format: "%@/step-%06d.safetensors", folder, step), input: options.input, training: state)
        let all = Files.list(folder).filter { $0.hasPrefix("step-") && $0.hasSuffix(".safetensors") }.sorted()
        for old in all.dropLast(2) { try? FileManager.default.removeItem(atPath: "\(folder)/\(old)") }
    }

    static func timing(_ steps: Int, _ batch: Int, _ waiting: Double, _ computing: Double) -> TrainingMetrics.Timing {
        let seconds = waiting + computing
        return TrainingMetrics.Timing(imagesPerSecond: seconds > 0 ? Double(steps * batch) / seconds : 0,
                                      dataWaitShare: seconds > 0 ? waiting / seconds : 0, seconds: seconds)
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return String(format: "%d:%02d", s / 60, s % 60)
    }
}

/// Samples reported as unreadable, collected from the loader's threads.
final class ErrorLog: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [FileError] = []
    private let log: @Sendable (String) -> Void
    init(log: @escaping @Sendable (String) -> Void) { self.log = log }
    func add(_ error: FileError) {
        lock.lock()
        defer { lock.unlock() }
        errors.append(error)
        log("skipped: \(error)")
    }
    var all: [FileError] { lock.lock(); defer { lock.unlock() }; return errors }
    var distinct: [FileError] {
        var seen: Set<String> = []
        return all.filter { seen.insert($0.description).inserted }
    }
}

extension Objective {
    /// Losses of the last forward pass against a loaded batch's targets.
    public func evaluate(_ batch: Batch) -> LossBreakdown {
        evaluate(semantic: batch.semantic, center: batch.center, offset: batch.offset, offsetWeight: batch.offsetWeight)
    }
}
