import ArgumentParser
import CommandSupport
import Foundation
import Harmonize
import SynmixCore
import SynmixFormats

extension Dataset: ExpressibleByArgument {}

struct HarmonizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "harmonize",
        abstract: "Read Cityscapes or Synscapes in its original layout into a manifest in the unified taxonomy.",
        discussion: """
            Writes OUT/manifest.jsonl (one image per line, sorted by id), OUT/summary.json and \
            OUT/errors.jsonl. A sample that cannot be read is reported in errors.jsonl and skipped; \
            the exit status is 1 only if there are more errors than --max-errors.
            """,
        version: synmixVersion)

    @Option(help: "Dataset layout.")
    var dataset: Dataset

    @Option(help: "Dataset root (the folder holding leftImg8bit/ and gtFine/, or img/ and meta/).")
    var root: String

    @Option(help: "Output folder.")
    var out: String

    @Option(help: "Split: train, val, test (Cityscapes) or all (all: one manifest; pack-mix and evaluate pick a split later).")
    var split = HarmonizeOptions.defaults.split

    @Option(help: "Mapping file (default: mappings/DATASET.yaml).")
    var mapping: String?

    @Option(help: "Taxonomy file (default: taxonomy.yaml beside the mapping file).")
    var taxonomy: String?

    @OptionGroup var parallelism: Parallelism

    @Option(help: "Only the first N images by id.")
    var limit: Int?

    @Option(help: "Process part I of N (1-based, e.g. 2/8); the parts' manifests concatenate to the whole. Default under Slurm: the array task's part.")
    var partition: Partition?

    @Option(help: "Synscapes: the highest-numbered fraction of images that form the val split.")
    var valFraction = HarmonizeOptions.defaults.valFraction

    @OptionGroup var errorBudget: ErrorBudget

    @Flag(help: "Also decode every RGB image fully (slower) instead of checking its header.")
    var verifyImages = false

    @Option(help: "Refuse images with more pixels than this.")
    var maxPixels = HarmonizeOptions.defaults.maxPixels

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        guard valFraction >= 0, valFraction < 1 else { throw ValidationError("--val-fraction must be in [0, 1), got \(valFraction)") }
        guard maxPixels > 0 else { throw ValidationError("--max-pixels must be positive, got \(maxPixels)") }
    }

    func run() throws {
        guard let mappingPath = mapping ?? Files.defaultMappingsDirectory().map({ "\($0)/\(dataset.rawValue).yaml" }) else {
            throw ValidationError("no mappings/ folder found; name one with --mapping or SYNMIX_MAPPINGS")
        }
        let taxonomyPath = taxonomy ?? URL(fileURLWithPath: mappingPath).deletingLastPathComponent()
            .appendingPathComponent("taxonomy.yaml").path
        var options = HarmonizeOptions(dataset: dataset, root: root, out: out,
                                       mappingPath: mappingPath, taxonomyPath: taxonomyPath)
        options.split = split
        options.jobs = parallelism.jobs
        options.limit = limit
        options.partition = try (partition ?? Partition.ofSlurmArrayTask()).map { ($0.index, $0.count) }
        if let (index, count) = options.partition { print("harmonize: part \(index)/\(count) of the images") }
        options.valFraction = valFraction
        options.verifyImages = verifyImages
        options.maxPixels = maxPixels

        let started = Date()
        let result = try ProgressLine.during("harmonize \(dataset.rawValue)", unit: "images", started: started) { meter in
            try Harmonizer.run(options) { done, total in meter.update(done, total) }
        }
        let seconds = Date().timeIntervalSince(started)
        print(String(format: "harmonize: %d images written, %d errors, %.1f s (%.1f images/s) -> %@",
                     result.written, result.errors.count, seconds,
                     Double(result.written + result.errors.count) / max(seconds, 1e-9), out))
        printTable(result.summary.splits)
        try errorBudget.settle(result.errors, tool: "harmonize", more: "\(out)/errors.jsonl")
    }
}

/// Instances per class and split (crowd regions in parentheses).
func printTable(_ splits: [DatasetSummary.SplitCounts]) {
    guard let names = splits.first?.classes.map(\.name) else { return }
    let width = max(10, (names.map(\.count).max() ?? 0) + 2)
    func cell(_ text: String) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
    print(cell("split") + cell("images") + names.map(cell).joined())
    for row in splits {
        print(cell(row.name) + cell(String(row.images))
              + row.classes.map { cell($0.crowd > 0 ? "\($0.instances)(\($0.crowd))" : String($0.instances)) }.joined())
    }
}

HarmonizeCommand.main()
