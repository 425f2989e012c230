import ArgumentParser
import CommandSupport
import Experiment
import Foundation
import SynmixCore

extension DemoSettings.Preset: ExpressibleByArgument {}

/// `make demo`: the mixed-training experiment end to end on generated data.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synmix-demo",
        abstract: "Reproduce the real/synthetic mixed-training experiment on a generated benchmark.",
        discussion: "Writes OUT/report.md, report.html, report.json, table2.png and per-class.png; every stage's log is in OUT/logs.",
        version: synmixVersion)

    @Option(help: "Output folder (replaced).") var out = "demo-out"
    @Option(help: "full (about 14 minutes on 2 cores), quick (under 5) or tiny (seconds: checks the chain).")
    var preset: DemoSettings.Preset = .full
    @Option(help: "Folder of the stage executables (default: this executable's).") var bin: String?
    @Option(help: "Mappings folder (default: the repository's mappings/).") var mappings: String?
    @Option(help: "Training steps per run (default: the preset's).") var steps: Int?
    @Option(help: "Appearance gap between the domains (0...1; default: the preset's).") var gap: Double?
    @Option(help: "Seed of data and training (the seeds of repeated runs follow it).") var seed: UInt64 = 1
    @Option(help: "Train only these configurations, comma-separated (e.g. real-only,mixed-576).") var only: String?
    @Option(help: "Seeds of real-only and the largest mix (default: the preset's).") var seeds: Int?
    @Flag(help: "Rewrite the report from the runs already in --out (same preset, seed and options) instead of running them.")
    var reportOnly = false

    func validate() throws {
        if let steps, steps < 1 { throw ValidationError("--steps must be positive, got \(steps)") }
        if let seeds, seeds < 1 { throw ValidationError("--seeds must be positive, got \(seeds)") }
        if let gap, !(0...1).contains(gap) { throw ValidationError("--gap must be in [0, 1], got \(gap)") }
    }

    func run() throws {
        let binFolder = bin ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
        guard let mappingsFolder = mappings ?? Files.defaultMappingsDirectory() else {
            throw ValidationError("no mappings folder found: pass --mappings")
        }
        let folder = Files.absolute(out)
        if !reportOnly { try? FileManager.default.removeItem(atPath: folder) }
        var settings = DemoSettings(preset: preset, out: folder, bin: binFolder, mappings: mappingsFolder)
        if let steps { settings.steps = steps }
        if let gap { settings.gap = gap }
        if let seeds { settings.seeds = seeds }
        if let only { settings.only = Set(only.split(separator: ",").map(String.init)) }
        settings.seed = seed
        let report = DemoReport(results: try DemoRunner(settings: settings, log: say).run(reportOnly: reportOnly), settings: settings)
        say("\nTable 1 (AP ×100, trained on ↓, evaluated on →)\n" + report.table1)
        say("\nTable 2 (AP on real val ×100)\n" + report.table2)
        say("\n" + report.checksText)
        say("\nreport: \(folder)/report.md, \(folder)/report.html")
    }
}

/// Unbuffered, so that progress shows as it happens, also in a pipe.

Demo.main()
