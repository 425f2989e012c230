import ArgumentParser
import COpenBLAS
import CommandSupport
import Evaluation
import Foundation
import Network
import ShardData
import SynmixCore
import TrainShards
import SynmixFormats

struct TrainShardsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-shards",
        abstract: "Train and evaluate bottom-up instance segmentation on synmix shards, on the CPU.",
        version: synmixVersion,
        subcommands: [Fit.self, Evaluate.self, Predict.self])
}


/// `NAME=SHARDS` or just `SHARDS` (named after its position).
func namedShards(_ argument: String, fallback: String) throws -> (name: String, shards: [String]) {
    if let named = NamedValue(argument), !named.name.contains("/") { return (named.name, try ShardList.expand(named.value)) }
    return (fallback, try ShardList.expand(argument))
}

/// `body`'s value; its FitError (flags that contradict each other or the checkpoint) is a usage error (status 64).
func asUsageError<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as FitError { throw ValidationError(error.description) }
}

/// The network's input: both sides multiples of the output stride, within Checkpoint.Input.maxPixels.
func checkInputSize(_ size: PixelSize) throws {
    if let problem = Checkpoint.Input.problem(width: size.width, height: size.height) {
        throw ValidationError("--input-size: \(problem)")
    }
}

/// How predict and evaluate run a checkpoint: at the input size it was trained at, unless
/// `--input-size` says otherwise, which must be confirmed with `--other-input-size`.
struct CheckpointInput: ParsableArguments {
    @Option(help: "Network input WxH (default: the size the checkpoint was trained at).") var inputSize: PixelSize?
    @Flag(help: "Allow an --input-size other than the checkpoint's.") var otherInputSize = false

    func validate() throws {
        if let inputSize { try checkInputSize(inputSize) }
    }

    /// The checkpoint's model, ready to predict, and the input size it runs at.
    func predictor(for checkpoint: String, jobs: Int) throws -> (predictor: Predictor, size: PixelSize) {
        openblas_set_num_threads(Int32(jobs))
        let (network, stored) = try Checkpoint.model(at: checkpoint)
        let size = try asUsageError {
            try Checkpoint.runSize(of: checkpoint, stored: stored, requested: inputSize.map { ($0.width, $0.height) },
                                   confirmed: otherInputSize, warn: printError)
        }
        return (Predictor(model: network, inputWidth: size.width, inputHeight: size.height), PixelSize(width: size.width, height: size.height))
    }
}

struct Fit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train on shards; checkpoints, metrics.json and model.safetensors go to --out.",
        discussion: """
            Shards are a glob (mix-*.tar) or a brace range (mix-{000000..000012}.tar). Several --train NAME=SHARDS \
            with --share NAME=F fix each source's share of every batch; without --share they form one stream.
            """)

    @Option(help: "Training shards, [NAME=]SHARDS; repeatable.") var train: [String]
    @Option(help: "Share of a named source per batch, NAME=F; repeatable.") var share: [NamedValue] = []
    @Option(help: "Evaluation shards, NAME=SHARDS; repeatable.") var eval: [String] = []
    @Option(help: "Output folder.") var out: String
    @Option(help: "Training steps.") var steps: Int?
    @Option(help: "Training epochs (instead of --steps).") var epochs: Int?
    @Option(help: "Images per batch.") var batch = FitOptions.defaults.batch
    @Option(help: "Network input WxH (multiples of \(ModelConfig.outputStride), the output stride).") var inputSize = PixelSize(width: FitOptions.defaults.inputWidth, height: FitOptions.defaults.inputHeight)
    @Option(help: "Peak learning rate (AdamW, warm-up then cosine).") var lr = FitOptions.defaults.learningRate
    @Option(help: "Seed of initialisation, data order and augmentation.") var seed = FitOptions.defaults.seed
    @OptionGroup var parallelism: Parallelism
    @OptionGroup var errorBudget: ErrorBudget
    @Option(help: "Network width, channels at stride 4 (default: the --init checkpoint's, else \(ModelConfig.defaultWidth)).") var width: Int?
    @Option(help: "Start from this checkpoint's weights (fine-tuning).") var `init`: String?
    @Option(help: "Evaluate every N steps (and at the end).") var evalEvery: Int?
    @Option(help: "Checkpoint every N steps (and at the end).") var checkpointEvery = FitOptions.defaults.checkpointEvery
    @Option(help: "Print progress every N steps.") var logEvery = FitOptions.defaults.logEvery
    @Option(help: "Taxonomy file (default: the one the shards' index.json names, else mappings/taxonomy.yaml).") var taxonomy: String?
    @Flag(help: "Continue from the last checkpoint in --out.") var resume = false
    @Flag(help: "No random scale, crop and flip.") var noAugment = false
    @Option(help: "Standard deviation of the centre heatmap's Gaussians, in head pixels (4 input pixels).") var centerSigma = FitOptions.defaults.centerSigma
    @Option(help: "Memory for decoded training samples kept across epochs, in MiB (0: decode every sample every time).")
    var cacheMib = FitOptions.defaults.decodedCacheBytes >> 20

    func validate() throws {
        try checkInputSize(inputSize)
        guard (steps == nil) != (epochs == nil) else { throw ValidationError("give exactly one of --steps and --epochs") }
        if let width, width > ModelConfig.maxWidth { throw ValidationError("--width must be at most \(ModelConfig.maxWidth), got \(width)") }
        guard batch > 0, (width ?? 1) > 0, checkpointEvery > 0, logEvery > 0, (evalEvery ?? 1) > 0, (steps ?? 1) > 0, (epochs ?? 1) > 0 else {
            throw ValidationError("--steps, --epochs, --batch, --width, --eval-every, --checkpoint-every and --log-every must be positive")
        }
        guard lr.isFinite, lr > 0, centerSigma.isFinite, centerSigma > 0 else {
            throw ValidationError("--lr and --center-sigma must be positive numbers")
        }
        guard (0...(1 << 30)).contains(cacheMib) else { throw ValidationError("--cache-mib must lie in 0…\(1 << 30)") }
    }

    func run() throws {
        let sources = try train.enumerated().map { i, argument in
            let (name, shards) = try namedShards(argument, fallback: "train\(i)")
            return TrainingSource(name: name, shards: shards)
        }
        let model = try asUsageError { try FitOptions.model(width: width, initFrom: `init`, taxonomy: taxonomy, shards: sources.flatMap(\.shards)) }
        var options = FitOptions(sources: sources, out: out, config: model)
        if !share.isEmpty { options.shares = try asUsageError { try FitOptions.shares(share.map { ($0.name, $0.value) }, of: sources) } }
        options.evaluations = try eval.enumerated().map { i, argument in try namedShards(argument, fallback: "eval\(i)") }
        options.steps = steps
        options.epochs = epochs
        options.batch = batch
        (options.inputWidth, options.inputHeight) = (inputSize.width, inputSize.height)
        options.learningRate = lr
        options.seed = seed
        options.threads = parallelism.jobs
        options.initFrom = `init`
        options.resume = resume
        options.evaluateEvery = evalEvery
        options.checkpointEvery = checkpointEvery
        options.logEvery = logEvery
        options.augment = !noAugment
        options.centerSigma = centerSigma
        options.decodedCacheBytes = cacheMib << 20
        let summary = try Trainer.fit(options) { say($0) }
        say(String(format: "done: %d steps, final loss %.4f, %.1f images/s, %.1f%% of the time waiting for data",
                     summary.steps, summary.finalLoss, summary.imagesPerSecond, 100 * summary.dataWaitShare))
        for evaluation in summary.evaluations where evaluation.step == summary.steps {
            say("\(evaluation.name):")
            say(evaluation.outcome.result.table)
        }
        try errorBudget.settle(summary.skipped, tool: "train-shards fit", more: "\(out)/metrics.json")
    }
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cityscapes instance-level AP of a model on shards, or of results-format predictions against the shards' or Cityscapes' ground truth.",
        discussion: """
            --model CKPT --shards SHARDS evaluates at the shards' resolution (the 100 px minimum region scaled). \
            --predictions DIR --shards SHARDS scores any results-format predictions (train-shards predict, \
            python -m synmix_torch.predict, Detectron2) against the shards' own ground truth, the same way. \
            --cityscapes-gt DIR --predictions DIR is identical to cityscapesScripts' evalInstanceLevelSemanticLabeling.
            """)

    @Option(help: "Checkpoint (.safetensors) to evaluate on --shards.") var model: String?
    @Option(help: "Shards to evaluate on (glob or brace range).") var shards: String?
    @OptionGroup var input: CheckpointInput
    @OptionGroup var parallelism: Parallelism
    @OptionGroup var errorBudget: ErrorBudget
    @Option(help: "Cityscapes root (or its gtFine folder).") var cityscapesGt: String?
    @Option(help: "Folder of prediction txt files and masks.") var predictions: String?
    @Option(help: "Ground-truth split (val: the split with public labels that is not trained on).") var split = CityscapesEvaluation.Options.defaults.split
    @Option(help: "Write metrics.json here (and overlays/ with --overlays).") var out: String?
    @Option(help: "With --model: draw the K images with the most errors (misses, false positives) into OUT/overlays.")
    var overlays = 0
    @Flag(help: "Report and skip images whose files are bad instead of stopping.") var skipBad = false
    @Flag(help: "Also compute COCO-style mask AP (pycocotools COCOeval, segm).") var coco = false

    func validate() throws {
        guard overlays >= 0, overlays == 0 || (model != nil && out != nil) else {
            throw ValidationError("--overlays K needs K >= 0, --model and --out")
        }
        let ofModel = model != nil && shards != nil && predictions == nil && cityscapesGt == nil
        let ofPredictions = model == nil && predictions != nil && (shards != nil) != (cityscapesGt != nil)
        guard ofModel || ofPredictions else {
            throw ValidationError("give --model and --shards, --predictions and --shards, or --predictions and --cityscapes-gt")
        }
    }

    func run() throws {
        if let model, let shards {
            let (predictor, size) = try input.predictor(for: model, jobs: parallelism.jobs)
            var skipped: [FileError] = []
            let outcome = try ProgressLine.during("evaluate", unit: "images") { meter in
                try ShardEvaluation.evaluate(predictor, shards: try ShardList.expand(shards), jobs: parallelism.jobs, overlays: overlays,
                                             report: { skipped.append($0) }, progress: { meter.update($0, nil) })
            }
            say("evaluated \(outcome.result.images) images at \(outcome.width)x\(outcome.height), network input \(size) (minimum regions "
                + outcome.minRegionSizes.map { "\($0)" }.joined(separator: ", ") + " px: 100 px scaled by each image's area ratio)")
            say(outcome.result.table)
            if let out {
                try Files.createDirectory(out)
                try Files.writeAtomically(outcome.json.pretty, to: "\(out)/metrics.json")
                for path in try outcome.worst.write(to: "\(out)/overlays") { say("overlay: \(path)") }
            }
            try errorBudget.settle(skipped, tool: "train-shards evaluate")
            return
        }
        if let predictions, let shards {
            var skipped: [FileError] = []
            let outcome = try ProgressLine.during("evaluate", unit: "images") { meter in
                try ShardEvaluation.evaluate(predictions: predictions, shards: try ShardList.expand(shards), jobs: parallelism.jobs,
                                             report: { skipped.append($0) }, progress: { meter.update($0, nil) })
            }
            say("evaluated \(outcome.result.images) images at \(outcome.width)x\(outcome.height) against the shards' ground truth")
            say(outcome.result.table)
            if let out {
                try Files.createDirectory(out)
                try Files.writeAtomically(outcome.json.pretty, to: "\(out)/metrics.json")
            }
            try errorBudget.settle(skipped, tool: "train-shards evaluate")
            return
        }
        guard let cityscapesGt, let predictions else { return }
        var options = CityscapesEvaluation.Options(groundTruth: cityscapesGt, predictions: predictions)
        options.split = split
        options.skipBad = skipBad
        options.jobs = parallelism.jobs
        let (result, file, skipped) = try CityscapesEvaluation.score(options, coco: coco)
        say(result.table)
        for (name, value) in file.coco ?? [] {
            say("COCO " + name.padding(toLength: 6, withPad: " ", startingAt: 0) + String(format: " %.3f", value))
        }
        if let out {
            try Files.createDirectory(out)
            try Files.writeAtomically(file.json.pretty, to: "\(out)/metrics.json")
        }
        try errorBudget.settle(skipped, tool: "train-shards evaluate")
    }
}

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a model's predictions on shards in the Cityscapes results format, at each image's original size.")

    @Option(help: "Checkpoint (.safetensors).") var model: String
    @Option(help: "Shards to predict (glob or brace range).") var shards: String
    @Option(help: "Output folder (NAME_pred.txt files and masks/).") var out: String
    @OptionGroup var input: CheckpointInput
    @OptionGroup var parallelism: Parallelism
    @OptionGroup var errorBudget: ErrorBudget

    func run() throws {
        let (predictor, size) = try input.predictor(for: model, jobs: parallelism.jobs)
        var skipped: [FileError] = []
        let count = try ProgressLine.during("predict", unit: "images") { meter in
            try ShardEvaluation.writePredictions(predictor, shards: try ShardList.expand(shards), to: out, jobs: parallelism.jobs,
                                                 report: { skipped.append($0) }, progress: { meter.update($0, nil) })
        }
        say("wrote predictions for \(count) images at \(size) input to \(out)")
        try errorBudget.settle(skipped, tool: "train-shards predict")
    }
}

TrainShardsCommand.main()
