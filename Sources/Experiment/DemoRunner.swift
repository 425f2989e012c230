import Foundation
import Synchronization
import SynmixCore
import SynmixFormats
import SynmixGenerate

/// One training of the experiment: the trainer's command line (`train-shards fit` or `synmix_torch.train`).
public struct TrainingRun: Sendable {
    public var name: String
    public var seed: UInt64
    /// The trainer: a stage executable's name, or a path (the torch engine's Python or torchrun).
    public var tool: String
    public var arguments: [String]
    /// A run whose model this one starts from (pre-training then fine-tuning).
    public var after: String?
    public var folder: String
    /// Training images per domain.
    public var realImages: Int
    public var syntheticImages: Int
}

/// The names of the experiment's trainings (folders runs/NAME-sSEED, keys of report.json).
public enum DemoRun {
    public static let realOnly = "real-only"
    public static let syntheticOnly = "synthetic-only"
    public static let fineTuned = "pretrain-finetune"
    public static let unfiltered = "mixed-unfiltered"
    public static let unsplit = "mixed-unsplit"
    /// Table 2's mixes: real and `count` synthetic images in one uniformly shuffled set (pack-mix's union, the published mixing).
    public static func mixed(_ count: Int) -> String { "mixed-\(count)" }
    /// The same images streamed as two sources with a fixed real share per batch.
    public static func fixedShare(_ count: Int) -> String { "share-\(count)" }
    /// A configuration with `DemoPlan.controlFactor` times the steps: shows whether `name` has converged.
    public static func control(_ name: String) -> String { "\(name)-2x" }
}

/// One row of the experiment's plan: a configuration and how it trains.
public struct PlannedConfiguration: Sendable {
    public var name: String
    /// What it stands for in the report.
    public var label: String
    /// The trainer's data arguments (`--train`, `--share`, `--init`).
    public var data: [String]
    /// Steps relative to the preset's (the controls train longer, the fine-tuning shorter).
    public var stepsFactor = 1.0
    public var seeds: Int
    /// The configuration (same seed) whose model this one starts from, at `DemoPlan.fineTuningRate` of the rate.
    public var startsFrom: String?
    /// Training images per domain.
    public var images: (real: Int, synthetic: Int)
}

/// A plan that cannot run as asked.
public struct PlanError: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}

/// The factors the plan and the report share.
public enum DemoPlan {
    /// A convergence control trains this many times its configuration's steps.
    public static let controlFactor = 2.0
    /// Fine-tuning trains this share of the steps, at this share of the learning rate.
    public static let fineTuningSteps = 0.5
    public static let fineTuningRate = 0.5
}

/// The experiment behind `make demo`: generate both datasets, harmonize, filter,
/// pack, train every configuration (two lanes side by side), evaluate every model
/// on real and synthetic val, and write the report. Each stage is the real
/// executable, so the demo runs exactly what users run.
public final class DemoRunner: @unchecked Sendable {
    /// The preset's settings; with the user's datasets, the image counts become theirs once harmonized.
    public private(set) var settings: DemoSettings
    let log: @Sendable (String) -> Void
    let started = Date()

    public init(settings: DemoSettings, log: @escaping @Sendable (String) -> Void) {
        self.settings = settings
        self.log = log
    }

    var out: String { settings.out }
    func path(_ name: String) -> String { "\(out)/\(name)" }

    /// Runs everything and returns the report's results; `reportOnly` rewrites the report from
    /// the runs already in the output folder.
    @discardableResult
    public func run(reportOnly: Bool = false) throws -> DemoResults {
        // With the user's datasets the counts of Table 2 (and so the names of its runs) are known once they are read.
        if settings.datasets == nil { try checkOnly() }
        if !reportOnly {
            try Files.createDirectory(path("logs"))
            try checkPlan()
            try generate()
            try prepare()
        }
        if reportOnly, settings.datasets != nil { try countUserImages() }
        if settings.datasets != nil { try checkOnly() }
        let runs = trainingRuns()
        // A run that fails stops the experiment; the report then says what finished and what is missing.
        var failure: Error?
        if !reportOnly {
            do { try train(runs) } catch { failure = error }
        }
        let results = try DemoResults(settings: settings, plan: configurations(), runs: runs, filterReport: path("synthetic-filtered"), allowMissing: failure != nil)
        // A rewritten report keeps the wall time of the run that trained the models.
        let elapsed = reportOnly ? ExperimentReport.recordedElapsedSeconds(folder: out) : Date().timeIntervalSince(started)
        try DemoReport(results: results, settings: settings).write(to: out, elapsed: elapsed)
        if let failure { throw failure }
        return results
    }

    /// `--only` names configurations of this plan.
    func checkOnly() throws {
        guard let only = settings.only else { return }
        var everything = settings
        everything.only = nil
        let planned = DemoRunner(settings: everything, log: log).configurations().map(\.name)
        let unknown = only.subtracting(planned).sorted()
        guard unknown.isEmpty else {
            throw PlanError(reason: "--only names \(unknown.joined(separator: ", ")), which this plan does not have; it has \(planned.joined(separator: ", "))")
        }
    }

    // MARK: resuming

    /// A rerun into the same folder continues it: every finished stage and run is kept. So the folder must hold
    /// this experiment and no other (OUT/plan.json, written on the first run).
    func checkPlan() throws {
        let file = path(ExperimentIdentity.fileName)
        guard Files.exists(file) else { return try Files.writeAtomically(settings.identity.json.pretty, to: file) }
        let differences = settings.identity.differences(fromStored: try JSON.parse(try Files.read(file)))
        guard differences.isEmpty else {
            throw FileError(path: file, reason: "\(out) holds another experiment: \(differences.joined(separator: "; ")); "
                            + "use another --out, or --fresh to replace it")
        }
    }

    /// Runs `body` unless `marker` exists (a stage that finished), and writes the marker after it.
    func once(_ marker: String, _ body: () throws -> Void) throws {
        guard !Files.exists(path(marker)) else { return }
        try body()
        try Files.writeAtomically(Array("done\n".utf8), to: path(marker))
    }

    // MARK: data

    /// The seed of the generated synthetic train frames.
    var syntheticSeed: UInt64 { Seed.derive(settings.seed, "synthetic-frames") }

    /// OUT/coverage.json: how many of the generated world's class × sub-type × view combinations the frames of each
    /// synthetic count show (every object drawn in them, before filtering). The packed samples' keys end in the
    /// frame's number, from which its scene is rebuilt.
    func writeCoverage() throws {
        let s = settings
        let builder = s.syntheticTrainBuilder
        let world = RoadUsers.combinations(of: s.syntheticClasses.weights.filter { $0.weight > 0 }.map(\.metaClass))
        var perCount: [Coverage.Count] = []
        for count in s.syntheticCounts {
            let folder = path("shards/synthetic-\(count)")
            var numbers = Set<Int>()
            for shard in Files.list(folder).filter({ $0.hasSuffix(".tar") }) {
                for member in try Tar.read(try Files.read("\(folder)/\(shard)")) {
                    if let number = Int(member.sampleKey.split(separator: "-").last ?? "") { numbers.insert(number) }
                }
            }
            var objects = Dictionary(uniqueKeysWithValues: world.map { ($0, 0) })
            for number in numbers {
                for object in DatasetGenerator.synscapesScene(number: number, builder: builder, seed: syntheticSeed).objects {
                    if let variant = object.variant { objects["\(object.metaClass)/\(variant.subtype)/\(variant.view)"]? += 1 }
                }
            }
            let sorted = objects.values.sorted()
            perCount.append(Coverage.Count(count: count, combinations: sorted.filter { $0 > 0 }.count, medianObjects: sorted[sorted.count / 2],
                                           fewestObjects: sorted.first ?? 0))
        }
        try Files.writeAtomically(Coverage(total: world.count, perCount: perCount).json.pretty, to: path(Coverage.fileName))
    }

    func generate() throws {
        guard settings.datasets == nil else { return }
        try once("data/.complete") { try generateBenchmark() }
    }

    func generateBenchmark() throws {
        let s = settings
        let t0 = Date()
        // Real: Cityscapes layout, a long-tailed train city and a class-balanced val city;
        // synthetic: Synscapes layout, train frames in its own class mix, balanced val = the last numbers.
        let policy = DemoLook.policy(width: s.frameWidth, height: s.frameHeight)
        try DatasetGenerator.cityscapes(root: path("data/real"), count: s.realTrain, builder: s.frameBuilder(s.realTrainClasses),
                                        split: .train, city: "demotrain", seed: Seed.derive(s.seed, "real-train-frames"), appearance: .demoReal, policy: policy,
                                        pngLevel: 1, jobs: 2)
        try DatasetGenerator.cityscapes(root: path("data/real"), count: s.realVal, builder: s.frameBuilder(.balanced),
                                        split: .val, city: "demoval", seed: Seed.derive(s.seed, "real-val-frames"), appearance: .demoReal, policy: policy,
                                        pngLevel: 1, jobs: 2)
        try DatasetGenerator.synscapes(root: path("data/synthetic"), count: s.syntheticTrain, builder: s.syntheticTrainBuilder,
                                       seed: syntheticSeed, appearance: .demoSynthetic(gap: s.gap), pngLevel: 1, jobs: 2)
        try DatasetGenerator.synscapes(root: path("data/synthetic"), first: s.syntheticTrain + 1, count: s.syntheticVal, builder: s.frameBuilder(.balanced),
                                       seed: syntheticSeed, appearance: .demoSynthetic(gap: s.gap), pngLevel: 1, jobs: 2)
        log(String(format: "[data] %d real (train %d, val %d) and %d synthetic frames of %dx%d generated in %.1f s",
                   s.realTrain + s.realVal, s.realTrain, s.realVal, s.syntheticTrain + s.syntheticVal, s.frameWidth, s.frameHeight,
                   Date().timeIntervalSince(t0)))
    }

    /// The dataset roots: the user's, or the generated benchmark's.
    var realRoot: String { settings.datasets?.cityscapes ?? path("data/real") }
    var syntheticRoot: String { settings.datasets?.synscapes ?? path("data/synthetic") }
    var syntheticValFraction: Double {
        settings.datasets == nil ? Double(settings.syntheticVal) / Double(settings.syntheticTrain + settings.syntheticVal) : settings.syntheticValFraction
    }

    /// Runs a stage whose output folder is `output` unless it finished before (its own completion file there);
    /// a stage interrupted half-way starts again from an empty folder.
    func stage(_ tool: String, _ arguments: [String], output: String, done: String, logName: String? = nil) throws {
        guard !Files.exists("\(output)/\(done)") else { return }
        try? FileManager.default.removeItem(atPath: output)
        try stage(tool, arguments, logName: logName)
    }

    /// The user's datasets set the counts the plan scales to (harmonize's summary.json, per split).
    func countUserImages() throws {
        let real = try DatasetSummary.read(folder: path("real")), synthetic = try DatasetSummary.read(folder: path("synthetic"))
        settings.realTrain = real.images(inSplit: .train)
        settings.realVal = real.images(inSplit: .val)
        settings.syntheticTrain = synthetic.images(inSplit: .train)
        settings.syntheticVal = synthetic.images(inSplit: .val)
        guard settings.realTrain > 0, settings.realVal > 0, settings.syntheticTrain > 0, settings.syntheticVal > 0 else {
            throw FileError(path: path("real"), reason: "the datasets need train and val images in both domains: real \(settings.realTrain) train, "
                            + "\(settings.realVal) val; synthetic \(settings.syntheticTrain) train, \(settings.syntheticVal) val")
        }
        log("[prepare] your datasets: real \(settings.realTrain) train + \(settings.realVal) val, synthetic \(settings.syntheticTrain) train + "
            + "\(settings.syntheticVal) val; synthetic counts \(settings.syntheticCounts.map(String.init).joined(separator: ", "))")
    }

    func prepare() throws {
        let valFraction = String(syntheticValFraction)
        try stage("harmonize", ["--dataset", "cityscapes", "--root", realRoot, "--split", "all", "--out", path("real")],
                  output: path("real"), done: DatasetSummary.fileName, logName: "harmonize-real")
        try stage("harmonize", ["--dataset", "synscapes", "--root", syntheticRoot, "--val-fraction", valFraction,
                                "--out", path("synthetic")], output: path("synthetic"), done: DatasetSummary.fileName, logName: "harmonize-synthetic")
        // Thresholds from the real annotations themselves (what a human left unlabelled).
        try stage("filter-instances", ["--in", path("synthetic"), "--calibrate-from", path("real"), "--preview", "3",
                                       "--out", path("synthetic-filtered")], output: path("synthetic-filtered"), done: "report.md")
        if settings.datasets != nil { try countUserImages() }
        let s = settings   // with the user's datasets, their counts
        let size = "\(s.inputWidth)x\(s.inputHeight)"
        func pack(_ name: String, _ arguments: [String]) throws {
            try stage("pack-mix", arguments + ["--max-size", size, "--seed", String(s.seed), "--out", path("shards/\(name)")],
                      output: path("shards/\(name)"), done: "index.json", logName: "pack-\(name)")
        }
        try pack("real-train", ["--real", path("real"), "--split", "train"])
        try pack("real-val", ["--real", path("real"), "--split", "val"])
        try pack("synthetic-val", ["--synthetic", path("synthetic-filtered"), "--synthetic-count", "all", "--split", "val"])
        try pack("synthetic-all", ["--synthetic", path("synthetic-filtered"), "--synthetic-count", "all"])
        for count in s.syntheticCounts {
            // Nested subsets (one seed): each larger set keeps the smaller one's images. Table 2 trains on their
            // union with the real images (mix-N); the fixed-share run streams synthetic-N beside the real shards,
            // and the generated benchmark's coverage counts the frames of each synthetic-N.
            try pack("mix-\(count)", ["--real", path("real"), "--synthetic", path("synthetic-filtered"), "--synthetic-count", String(count)])
            if count == s.largest || s.datasets == nil {
                try pack("synthetic-\(count)", ["--synthetic", path("synthetic-filtered"), "--synthetic-count", String(count)])
            }
        }
        if s.ablations {
            // Ablation: the mapping without the two-wheeler split (a rider stays part of its bicycle/motorcycle).
            try stage("harmonize", ["--dataset", "synscapes", "--root", syntheticRoot, "--val-fraction", valFraction,
                                    "--mapping", "\(settings.mappings)/ablations/synscapes-unsplit.yaml",
                                    "--taxonomy", "\(settings.mappings)/taxonomy.yaml", "--out", path("synthetic-unsplit")],
                      output: path("synthetic-unsplit"), done: DatasetSummary.fileName, logName: "harmonize-unsplit")
            try stage("filter-instances", ["--in", path("synthetic-unsplit"), "--calibrate-from", path("real"),
                                           "--out", path("synthetic-unsplit-filtered")], output: path("synthetic-unsplit-filtered"),
                      done: "report.md", logName: "filter-instances-unsplit")
            let largest = s.largest
            try pack("unfiltered-\(largest)", ["--real", path("real"), "--synthetic", path("synthetic"), "--synthetic-count", String(largest)])
            try pack("unsplit-\(largest)", ["--real", path("real"), "--synthetic", path("synthetic-unsplit-filtered"), "--synthetic-count", String(largest)])
        }
        if s.datasets == nil { try writeCoverage() }
        log(String(format: "[prepare] harmonized, filtered and packed at %@ (%.0f s so far)", size, Date().timeIntervalSince(started)))
    }

    // MARK: training

    /// The shard pattern of a packed set (OUT/shards/NAME).
    func shards(_ name: String) -> String { path("shards/\(name)/mix-*.tar") }

    /// The experiment's configurations, in the order the lanes take them (the longest and the ones
    /// others start from first). All train for `steps` steps (equal compute) except the convergence
    /// controls and the fine-tuning.
    public func configurations() -> [PlannedConfiguration] {
        let s = settings
        let largest = s.largest, real = s.realTrain
        func mixed(_ count: Int) -> PlannedConfiguration {
            PlannedConfiguration(name: DemoRun.mixed(count), label: "+\(count) synthetic", data: ["--train", shards("mix-\(count)")],
                                 seeds: s.seeds, images: (real, count))
        }
        let realOnly = PlannedConfiguration(name: DemoRun.realOnly, label: "real only", data: ["--train", shards("real-train")],
                                            seeds: s.seeds, images: (real, 0))
        let largestMix = mixed(largest)
        func control(_ of: PlannedConfiguration, seeds: Int) -> PlannedConfiguration {
            PlannedConfiguration(name: DemoRun.control(of.name), label: "\(of.label), \(String(format: "%g", DemoPlan.controlFactor))× the steps", data: of.data,
                                 stepsFactor: DemoPlan.controlFactor, seeds: min(seeds, of.seeds), images: of.images)
        }
        var plan = [control(realOnly, seeds: s.realOnlyControlSeeds), control(largestMix, seeds: 1),
                    PlannedConfiguration(name: DemoRun.syntheticOnly, label: "synthetic only", data: ["--train", shards("synthetic-all")],
                                         seeds: s.seeds, images: (0, s.syntheticTrain)),
                    realOnly, largestMix]
        plan += s.syntheticCounts.dropLast().reversed().map(mixed)
        if s.fixedShare {
            // The mixes' real share of a batch falls as synthetic images are added (real / (real + N)); this holds it fixed.
            plan.append(PlannedConfiguration(name: DemoRun.fixedShare(largest), label: "+\(largest) synthetic, \(Int(100 * s.realShare)) % real per batch",
                                             data: ["--train", "real=\(shards("real-train"))", "--train", "synthetic=\(shards("synthetic-\(largest)"))",
                                                    "--share", "real=\(s.realShare)"],
                                             seeds: s.seeds, images: (real, largest)))
        }
        if s.ablations {
            plan.append(PlannedConfiguration(name: DemoRun.unfiltered, label: "+\(largest) synthetic without filtering",
                                             data: ["--train", shards("unfiltered-\(largest)")], seeds: 1, images: (real, largest)))
            plan.append(PlannedConfiguration(name: DemoRun.unsplit, label: "+\(largest) synthetic without the two-wheeler split",
                                             data: ["--train", shards("unsplit-\(largest)")], seeds: 1, images: (real, largest)))
        }
        if s.fineTuning {
            plan.append(PlannedConfiguration(name: DemoRun.fineTuned, label: "synthetic pre-training → real fine-tuning",
                                             data: ["--train", shards("real-train"), "--init", path("runs/\(DemoRun.syntheticOnly)-s\(s.seed)/model.safetensors")],
                                             stepsFactor: DemoPlan.fineTuningSteps, seeds: 1, startsFrom: DemoRun.syntheticOnly, images: (real, s.syntheticTrain)))
        }
        return plan.filter { s.only?.contains($0.name) ?? true }
    }

    /// Every training of the experiment: each configuration's seeds, as trainer command lines.
    func trainingRuns() -> [TrainingRun] {
        let s = settings
        var runs: [TrainingRun] = []
        for configuration in configurations() {
            for seed in (0..<UInt64(configuration.seeds)).map({ s.seed + $0 }) {
                let folder = path("runs/\(configuration.name)-s\(seed)")
                let steps = max(1, Int(Double(s.steps) * configuration.stepsFactor))
                let rate = s.learningRate * (configuration.startsFrom == nil ? 1 : DemoPlan.fineTuningRate)
                // Both engines: the same sources, shares, val sets, steps, batch, seed and starting model.
                let common = configuration.data + ["--eval", "real=\(shards("real-val"))", "--eval", "synthetic=\(shards("synthetic-val"))",
                                                   "--out", folder, "--steps", String(steps), "--batch", String(s.batch / s.processes),
                                                   "--lr", String(rate), "--seed", String(seed), "--log-every", String(max(1, steps / 4))]
                let (tool, command): (String, [String])
                switch s.engine {
                case .swift:
                    (tool, command) = ("train-shards", ["fit"] + common + ["--input-size", "\(s.inputWidth)x\(s.inputHeight)", "--width", String(s.width),
                                                                     "--jobs", "1", "--checkpoint-every", String(steps)])
                case .torch:
                    // The detector at the input size: short sides drawn around the input height, the longest side at the input width.
                    let launcher = s.processes > 1 ? ["--nproc_per_node", String(s.processes), "--master_port", String(29_500 + runs.count)] : []
                    (tool, command) = (s.processes > 1 ? s.torchrun : s.python, launcher + ["-m", "synmix_torch.train", "--model", s.model.rawValue,
                        "--backbone", s.backbone.rawValue] + common + [
                        "--short-sides", s.shortSides.map(String.init).joined(separator: ","), "--max-size", String(s.inputWidth),
                        "--test-short-side", String(s.inputHeight), "--test-max-size", String(s.inputWidth),
                        "--rois-per-image", String(s.roisPerImage), "--detections-per-image", String(s.detectionsPerImage), "--workers", String(s.loaderWorkers), "--evaluator", "\(s.bin)/train-shards",
                        "--checkpoint-every", String(max(1, min(steps, 1000)))]
                        + (s.backboneWeights.map { configuration.data.contains("--init") ? [] : ["--backbone-weights", $0] } ?? []))
                }
                runs.append(TrainingRun(name: configuration.name, seed: seed, tool: tool, arguments: command,
                                        after: configuration.startsFrom.map { "\($0)-s\(seed)" },
                                        folder: folder, realImages: configuration.images.real, syntheticImages: configuration.images.synthetic))
            }
        }
        return runs
    }

    /// Runs the trainings on `lanes` lanes; a run waits for the run it starts from.
    func train(_ runs: [TrainingRun]) throws {
        let keys = Set(runs.map { "\($0.name)-s\($0.seed)" })
        if let orphan = runs.first(where: { $0.after.map { !keys.contains($0) } ?? false }) {
            throw FileError(path: out, reason: "\(orphan.name) starts from \(orphan.after!), which is not among the runs to train")
        }
        let state = Mutex((next: 0, done: Set<String>(), failure: String?.none, trained: 0, seconds: 0.0))
        let group = DispatchGroup()
        let t0 = Date()
        for lane in 0..<settings.lanes {
            DispatchQueue.global().async(group: group) {
                while true {
                    // Take the next run in plan order; one that starts from another run waits for it.
                    var job: TrainingRun?
                    var waiting = false
                    state.withLock { s in
                        guard s.failure == nil, s.next < runs.count else { return }
                        let run = runs[s.next]
                        if let after = run.after, !s.done.contains(after) { waiting = true; return }
                        job = run
                        s.next += 1
                    }
                    if waiting { usleep(200_000); continue }
                    guard let run = job else { return }
                    let key = "\(run.name)-s\(run.seed)"
                    let started = Date()
                    do {
                        if let finished = try? RunResult(run) {
                            // A rerun never trains a finished run again.
                            self.log("[train] \(key): finished earlier (\(self.summary(finished))), kept")
                        } else {
                            // A run interrupted after a checkpoint continues from it; one without any starts afresh.
                            let checkpoints = Files.list("\(run.folder)/checkpoints").filter { $0.hasSuffix(".safetensors") }
                            if checkpoints.isEmpty { try? FileManager.default.removeItem(atPath: run.folder) }
                            self.log("[train] lane \(lane + 1): \(key) \(checkpoints.isEmpty ? "…" : "resumed from its last checkpoint …")")
                            try self.stage(run.tool, run.arguments + (checkpoints.isEmpty ? [] : ["--resume"]), logName: "train-\(key)")
                            let result = try RunResult(run)
                            self.log(String(format: "[train] lane %d: %@ done in %.0f s: %@", lane + 1, key, Date().timeIntervalSince(started),
                                            self.summary(result)))
                            state.withLock { $0.seconds += Date().timeIntervalSince(started); $0.trained += 1 }
                        }
                        let progress = state.withLock { s -> String in
                            s.done.insert(key)
                            let left = runs.count - s.done.count
                            let eta = s.trained > 0 ? s.seconds / Double(s.trained) * Double(left) / Double(self.settings.lanes) : .nan
                            return String(format: "[plan] %d/%d runs done, %.0f min so far, about %@ to go", s.done.count, runs.count,
                                          Date().timeIntervalSince(self.started) / 60, eta.isFinite ? String(format: "%.0f min", eta / 60) : "? min")
                        }
                        self.log(progress)
                    } catch {
                        state.withLock { $0.failure = "\(error)" }
                        return
                    }
                }
            }
        }
        group.wait()
        if let failure = state.withLock({ $0.failure }) { throw FileError(path: out, reason: failure) }
        log(String(format: "[train] %d trainings in %.0f s on %d lanes", runs.count, Date().timeIntervalSince(t0), settings.lanes))
    }

    func summary(_ result: RunResult) -> String {
        String(format: "real val AP %.1f, synthetic val AP %.1f", 100 * result.real.ap, 100 * result.synthetic.ap)
    }

    /// Runs one stage executable (a name in the stage folder, or a path) with its output in logs/NAME.log;
    /// a failure names the log. The torch engine's Python finds synmix_torch in the repository's python/
    /// folder when it is not installed, and the lanes' trainings take one thread each.
    func stage(_ tool: String, _ arguments: [String], logName: String? = nil) throws {
        let name = logName ?? tool
        let logPath = path("logs/\(name).log")
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        defer { try? handle.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool.contains("/") ? tool : "\(settings.bin)/\(tool)")
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        let package = URL(fileURLWithPath: settings.mappings).deletingLastPathComponent().appendingPathComponent("python").path
        if Files.isDirectory("\(package)/synmix_torch") {
            environment["PYTHONPATH"] = ([package] + (environment["PYTHONPATH"].map { [$0] } ?? [])).joined(separator: ":")
        }
        if settings.lanes > 1 { environment["OMP_NUM_THREADS"] = "1" }
        process.environment = environment
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let tail = (try? String(contentsOfFile: logPath, encoding: .utf8))?.split(separator: "\n").suffix(5).joined(separator: "\n") ?? ""
            throw FileError(path: logPath, reason: "\(tool) \(arguments.joined(separator: " ")) failed (status \(process.terminationStatus)):\n\(tail)")
        }
    }
}
