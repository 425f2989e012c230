import ArgumentParser
import CommandSupport
import FilterInstances
import Foundation
import SynmixCore

extension RemovalPolicy: ExpressibleByArgument {}

struct FilterInstancesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filter-instances",
        abstract: "Remove instances a human annotator would not have labelled (too small, occluded, truncated).",
        discussion: """
            Reads IN/manifest.jsonl and writes OUT/manifest.jsonl, thresholds.yaml (what was applied), \
            report.json, report.md and errors.jsonl. Never reads or rewrites images, except to draw --preview.
            """,
        version: synmixVersion)

    @Option(name: .customLong("in"), help: "Input: a harmonize output folder or a manifest.jsonl.")
    var input: String
    @Option(help: "Output folder.")
    var out: String
    @Option(help: "Thresholds file (default: mappings/filters/default.yaml).")
    var thresholds: String?
    @Option(help: "Taxonomy file (default: mappings/taxonomy.yaml).")
    var taxonomy: String?
    @Option(help: "Replace the default minimum visible area (px).") var minArea: Double?
    @Option(help: "Replace the default minimum mask-box height (px).") var minHeight: Double?
    @Option(help: "Replace the default minimum mask-box width (px).") var minWidth: Double?
    @Option(help: "Replace the default maximum occlusion fraction.") var maxOcclusion: Double?
    @Option(help: "Replace the default maximum truncation fraction.") var maxTruncation: Double?
    @Option(help: "Replace the default minimum visible fraction of the amodal box.") var minVisibleFraction: Double?
    @Option(help: "ignore: removed pixels join the ignore region; drop: they become background.")
    var policy = FilterOptions.defaults.policy
    @Option(help: "Derive per-class min_area/min_height from this real manifest (folder or file).")
    var calibrateFrom: String?
    @Option(help: "Percentile of the real instances used by --calibrate-from.")
    var calibrationPercentile = FilterOptions.defaults.calibrationPercentile
    @Option(help: "Draw K overlay PNGs of the images with the most removals.")
    var preview = FilterOptions.defaults.previews
    @OptionGroup var errorBudget: ErrorBudget
    @OptionGroup var parallelism: Parallelism

    func validate() throws {
        guard preview >= 0 else { throw ValidationError("--preview must be 0 or more") }
        for (flag, value) in [("--min-area", minArea), ("--min-height", minHeight), ("--min-width", minWidth)] {
            if let value, !(value.isFinite && value >= 0) { throw ValidationError("\(flag) must be a number of pixels >= 0, got \(value)") }
        }
        guard calibrationPercentile >= 0, calibrationPercentile <= 100 else {
            throw ValidationError("--calibration-percentile must be in [0, 100], got \(calibrationPercentile)")
        }
        for (flag, value) in [("--max-occlusion", maxOcclusion), ("--max-truncation", maxTruncation), ("--min-visible-fraction", minVisibleFraction)] {
            if let value, !(0...1).contains(value) { throw ValidationError("\(flag) must be in [0, 1], got \(value)") }
        }
    }

    func run() throws {
        let mappings = Files.defaultMappingsDirectory()
        guard let thresholdsPath = thresholds ?? mappings.map({ "\($0)/filters/default.yaml" }),
              let taxonomyPath = taxonomy ?? mappings.map({ "\($0)/taxonomy.yaml" }) else {
            throw ValidationError("no mappings/ folder found; name files with --thresholds and --taxonomy or set SYNMIX_MAPPINGS")
        }
        var options = FilterOptions(input: input, out: out, thresholdsPath: thresholdsPath, taxonomyPath: taxonomyPath)
        let flags: [(FilterRule, Double?)] = [(.minArea, minArea), (.minHeight, minHeight), (.minWidth, minWidth),
                                              (.maxOcclusion, maxOcclusion), (.maxTruncation, maxTruncation),
                                              (.minVisibleFraction, minVisibleFraction)]
        for case let (rule, value?) in flags { options.overrides[rule] = value }
        options.policy = policy
        options.calibrateFrom = calibrateFrom
        options.calibrationPercentile = calibrationPercentile
        options.previews = preview
        options.jobs = parallelism.jobs
        let started = Date()
        let result = try ProgressLine.during("filter-instances", unit: "records", started: started) { meter in
            try FilterStage.run(options) { meter.update($0, nil) }
        }
        let seconds = Date().timeIntervalSince(started)
        print(String(format: "filter-instances: %d records, %d instances kept, %d removed, %d errors, %.2f s -> %@",
                     result.records, result.kept, result.removed, result.errors.count, seconds, out))
        print(result.headline)
        for path in result.previews { print("  preview: \(path)") }
        try errorBudget.settle(result.errors, tool: "filter-instances", more: "\(out)/errors.jsonl")
    }
}

FilterInstancesCommand.main()
