import ArgumentParser
import CommandSupport
import Experiment
import Foundation
import SynmixCore

extension DemoSettings.Preset: ExpressibleByArgument {}
extension DemoSettings.Engine: ExpressibleByArgument {}

/// The torch engine's detectors (synmix_torch.train --model); the synmix network trains with --engine swift.
extension DemoSettings.Detector: ExpressibleByArgument {}
extension DemoSettings.Backbone: ExpressibleByArgument {}

/// `make demo`: the mixed-training experiment end to end on generated data.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synmix-demo",
        abstract: "Reproduce the real/synthetic mixed-training experiment on a generated benchmark.",
        discussion: "Writes OUT/report.md, report.html, report.json, table2.png and per-class.png; every stage's log is in OUT/logs.",
        version: synmixVersion)

    @Option(help: "Output folder. A rerun continues it: finished stages and runs are kept, interrupted runs resume.")
    var out = DemoSettings.defaultOut
    @Flag(help: "Replace --out instead of continuing it.") var fresh = false
    @Option(help: """
        full (about 20 minutes on 2 cores), quick (under 5), tiny (seconds: checks the chain), gpu (the benchmark at full frame size, torch engine) or published (your datasets with the seed's protocol; the default with --cityscapes).
        """)
    var preset: DemoSettings.Preset?
    @Option(help: "Your Cityscapes root (original layout) instead of the generated real set; needs --synscapes.") var cityscapes: String?
    @Option(help: "Your Synscapes root (original layout) instead of the generated synthetic set; needs --cityscapes.") var synscapes: String?
    @Option(help: "Share of your Synscapes frames held out as synthetic val.") var syntheticValFraction = DemoSettings.defaults.syntheticValFraction
    @Option(help: "swift (train-shards fit, the synmix network, CPU) or torch (synmix_torch, the seed's detector).")
    var engine: DemoSettings.Engine?
    @Option(help: "The torch engine's detector.") var model = DemoSettings.defaults.model
    @Option(help: "The torch engine's ResNet-FPN backbone (default: the preset's).") var backbone: DemoSettings.Backbone?
    @Option(help: "An ImageNet ResNet state dict (.pth or .safetensors) for the torch engine's backbone.") var backboneWeights: String?
    @Option(help: "The Python with synmix_torch's requirements (default: $SYNMIX_PYTHON, the repository's .venv, else python3 on PATH).")
    var python: String?
    @Option(help: "GPUs (processes under torchrun) per training run of the torch engine.") var nprocPerNode = DemoSettings.defaults.processes
    @Option(help: "Folder of the stage executables (default: this executable's).") var bin: String?
    @Option(help: "Mappings folder (default: the repository's mappings/).") var mappings: String?
    @Option(help: "Training steps per run (default: the preset's).") var steps: Int?
    @Option(help: "Appearance gap between the domains (0...1; default: the preset's).") var gap: Double?
    @Option(help: "Seed of data and training (the seeds of repeated runs follow it).") var seed = DemoSettings.defaults.seed
    @Option(help: "Train only these configurations, comma-separated (e.g. real-only,mixed-576).") var only: String?
    @Option(help: "Seeds of every compared configuration: real-only, each synthetic count, synthetic-only, the fixed share (default: the preset's).")
    var seeds: Int?
    @Flag(help: "Also train the two ablations (without filtering, without the two-wheeler split) at the largest count.")
    var ablations = false
    @Flag(help: "Rewrite the report from the runs already in --out (same preset, seed and options) instead of running them.")
    var reportOnly = false

    func validate() throws {
        guard (cityscapes == nil) == (synscapes == nil) else { throw ValidationError("give both --cityscapes and --synscapes, or neither") }
        if nprocPerNode < 1 { throw ValidationError("--nproc-per-node must be at least 1, got \(nprocPerNode)") }
        guard (0.001...0.5).contains(syntheticValFraction) else {
            throw ValidationError("--synthetic-val-fraction must be in [0.001, 0.5], got \(syntheticValFraction)")
        }
        if let steps, steps < 1 { throw ValidationError("--steps must be positive, got \(steps)") }
        if let seeds, seeds < 1 { throw ValidationError("--seeds must be positive, got \(seeds)") }
        if let gap, !(0...1).contains(gap) { throw ValidationError("--gap must be in [0, 1], got \(gap)") }
    }

    func run() throws {
        let binFolder = bin ?? URL(fileURLWithPath: Files.executablePath).resolvingSymlinksInPath().deletingLastPathComponent().path
        guard let mappingsFolder = mappings ?? Files.defaultMappingsDirectory() else {
            throw ValidationError("no mappings folder found: pass --mappings")
        }
        let folder = Files.absolute(out)
        if fresh && !reportOnly { try? FileManager.default.removeItem(atPath: folder) }
        let chosen = preset ?? (cityscapes != nil ? .published : .full)
        var settings = DemoSettings(preset: chosen, out: folder, bin: binFolder, mappings: mappingsFolder)
        if let cityscapes, let synscapes {
            settings.datasets = (Files.absolute(cityscapes), Files.absolute(synscapes))
            settings.syntheticValFraction = syntheticValFraction
        }
        if let engine, engine != settings.engine {
            settings.engine = engine
            settings.learningRate = engine == .torch ? DemoSettings.detectorLearningRate(batch: settings.batch)
                                                     : DemoSettings(preset: chosen, out: folder, bin: binFolder, mappings: mappingsFolder).learningRate
        }
        if settings.engine == .torch {
            settings.model = model
            if let backbone { settings.backbone = backbone }
            settings.backboneWeights = backboneWeights.map(Files.absolute)
            settings.processes = nprocPerNode
            guard settings.batch % nprocPerNode == 0 else {
                throw ValidationError("the preset's batch of \(settings.batch) does not split over --nproc-per-node \(nprocPerNode)")
            }
            settings.python = try pythonExecutable(mappings: mappingsFolder)
        }
        if let steps { settings.steps = steps }
        if let gap { settings.gap = gap }
        if let seeds { settings.seeds = seeds }
        if ablations { settings.ablations = true }
        settings.seed = seed
        if let only { settings.only = Set(only.split(separator: ",").map(String.init)) }
        let report = DemoReport(results: try DemoRunner(settings: settings, log: say).run(reportOnly: reportOnly), settings: settings)
        say("\nTable 1 (AP ×100, trained on ↓, evaluated on →)\n" + report.table1)
        say("\nTable 2 (AP on real val ×100)\n" + report.table2)
        say("\n" + report.checksText)
        say("\nreport: \(folder)/report.md, \(folder)/report.html")
    }
}

extension Demo {
    /// --python, else $SYNMIX_PYTHON, else the repository's .venv (what `make venv` makes), else python3 on PATH.
    func pythonExecutable(mappings: String) throws -> String {
        if let python { return Files.absolute(python) }
        if let fromEnvironment = ProcessInfo.processInfo.environment["SYNMIX_PYTHON"] { return fromEnvironment }
        let venv = URL(fileURLWithPath: mappings).deletingLastPathComponent().appendingPathComponent(".venv/bin/python").path
        if FileManager.default.isExecutableFile(atPath: venv) { return venv }
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") where
            FileManager.default.isExecutableFile(atPath: "\(folder)/python3") {
            return "\(folder)/python3"
        }
        throw ValidationError("no Python for the torch engine: pass --python (one with `pip install './python[detection]'`)")
    }
}

/// Unbuffered, so that progress shows as it happens, also in a pipe.

Demo.main()
