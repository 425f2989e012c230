import ArgumentParser
import CocoExport
import CommandSupport
import Foundation
import PackMix
import ShardData
import SynmixCore
import SynmixFormats

extension ImageFormat: ExpressibleByArgument {}

extension SampleCount: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

struct PackMixCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pack-mix",
        abstract: "Mix real and synthetic manifests into shuffled WebDataset shards.",
        version: synmixVersion,
        subcommands: [Pack.self, Merge.self, Verify.self, Coco.self], defaultSubcommand: Pack.self)
}

struct Pack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pack",
        abstract: "Write the mix (the default subcommand).",
        discussion: """
            The seed fixes which records are chosen and the order of all samples; growing a count with the \
            same seed keeps the smaller set's records. Shards are written under a temporary name and renamed \
            when complete; rerunning after an interruption keeps the complete shards and gives the same bytes.
            """)

    @Option(help: "Real manifest (folder or file).") var real: String?
    @Option(help: "Synthetic manifest (folder or file).") var synthetic: String?
    @Option(help: "Synthetic samples: a number or all (default: \(PackInput.defaultCount)).") var syntheticCount: SampleCount?
    @Option(help: "Synthetic share of the whole set, 0 <= F < 1 (instead of --synthetic-count).") var syntheticFraction: Double?
    @Option(help: "More inputs, NAME=DIR (repeatable); all their records unless --count NAME=N.") var input: [NamedValue] = []
    @Option(help: "Records taken from a named input, NAME=N|all (repeatable).") var count: [NamedValue] = []
    @Option(help: "Seed of the choice and order of samples.") var seed = PackOptions.defaults.seed
    @Option(help: "Output folder.") var out: String
    @Option(help: "Shard file prefix.") var name = PackOptions.defaults.prefix
    @Option(help: "Start a new shard after this many bytes (default \(PackOptions.defaults.shardBytes); not with --partition).") var shardSize: Int?
    @Option(help: "Start a new shard after this many samples.") var shardSamples = PackOptions.defaults.shardSamples
    @Option(help: "keep (copy the encoded image), jpg or png.") var imageFormat = PackOptions.defaults.sample.imageFormat
    @Option(help: "JPEG quality for --image-format jpg.") var jpegQuality = PackOptions.defaults.sample.jpegQuality
    @Option(help: "Scale images and masks by this factor.") var scale: Double?
    @Option(help: "Shrink images and masks to fit WxH.") var maxSize: PixelSize?
    @Option(help: "Records of this split only: train, val or all (train: a training mix is the usual product).") var split = PackOptions.defaults.split
    @Option(help: "Rewrite a dataset root, OLD=NEW (repeatable).") var rootMap: [NamedValue] = []
    @Option(help: "Taxonomy the records' classes must come from; index.json names it (default: mappings/taxonomy.yaml).")
    var taxonomy: String?
    @Option(help: "Write part I of N of the shards (an array job; then `pack-mix merge`). Default under Slurm: the array task's part.")
    var partition: Partition?
    @OptionGroup var parallelism: Parallelism
    @OptionGroup var errorBudget: ErrorBudget

    func validate() throws {
        guard (shardSize ?? 1) > 0, shardSamples > 0 else { throw ValidationError("--shard-size and --shard-samples must be positive") }
        if partition != nil, shardSize != nil {
            throw ValidationError("--partition rotates shards by --shard-samples only (a byte limit would make each shard depend on the ones before it)")
        }
        if syntheticCount != nil, syntheticFraction != nil { throw ValidationError("give --synthetic-count or --synthetic-fraction, not both") }
        if synthetic == nil, syntheticCount != nil || syntheticFraction != nil {
            throw ValidationError("--synthetic-count and --synthetic-fraction need --synthetic (without it the set is real-only)")
        }
        guard (1...100).contains(jpegQuality) else { throw ValidationError("--jpeg-quality must be in 1...100, got \(jpegQuality)") }
        if let syntheticFraction, !(syntheticFraction >= 0 && syntheticFraction < 1) {
            throw ValidationError("--synthetic-fraction must be in [0, 1), got \(syntheticFraction)")
        }
        // Above 1 a sample grows; 16× already turns a Cityscapes frame into 537 M pixels.
        if let scale, !(scale > 0 && scale <= 16) { throw ValidationError("--scale must be in (0, 16], got \(scale)") }
    }

    func run() throws {
        var inputs: [PackInput] = []
        if let real { inputs.append(PackInput(name: "real", manifest: real)) }
        if let synthetic {
            var count = syntheticCount ?? PackInput.defaultCount
            if let syntheticFraction { count = .fraction(syntheticFraction) }
            inputs.append(PackInput(name: "synthetic", manifest: synthetic, count: count))
        }
        for named in input { inputs.append(PackInput(name: named.name, manifest: named.value)) }
        for named in count {
            guard let index = inputs.firstIndex(where: { $0.name == named.name }) else {
                throw ValidationError("--count names no input '\(named.name)'")
            }
            guard let parsed = SampleCount(named.value) else { throw ValidationError("--count takes NAME=N (a number >= 0) or NAME=all, got '\(named)'") }
            inputs[index].count = parsed
        }
        guard Set(inputs.map(\.name)).count == inputs.count else { throw ValidationError("input names must be unique") }
        var options = PackOptions(inputs: inputs, out: out)
        options.seed = seed
        options.prefix = name
        options.split = split
        if let shardSize { options.shardBytes = shardSize }
        options.partition = try partition ?? Partition.ofSlurmArrayTask()
        if let part = options.partition { print("pack-mix: part \(part) of the shards") }
        options.shardSamples = shardSamples
        options.jobs = parallelism.jobs
        guard let taxonomyPath = taxonomy ?? Files.defaultMappingsDirectory().map({ "\($0)/taxonomy.yaml" }) else {
            throw ValidationError("no mappings/ folder found; name the taxonomy with --taxonomy or set SYNMIX_MAPPINGS")
        }
        options.taxonomy = try Taxonomy(contentsOf: taxonomyPath)
        options.sample.imageFormat = imageFormat
        options.sample.jpegQuality = jpegQuality
        options.sample.scale = scale
        options.sample.maxSize = maxSize.map { ($0.width, $0.height) }
        options.sample.rootMap = rootMap.map { ($0.name, $0.value) }
        let started = Date()
        let result = try ProgressLine.during("pack-mix", unit: "samples", started: started) { meter in
            try Packer.run(options) { meter.update($0, $1) }
        }
        let seconds = Date().timeIntervalSince(started)
        print(String(format: "pack-mix: %d samples in %d shards (%.1f MB), %d skipped, %.2f s (%.0f samples/s, %.0f MB/s) -> %@",
                     result.samples, result.shards.count, Double(result.bytes) / 1e6, result.errors.count, seconds,
                     Double(result.samples) / max(seconds, 1e-9), Double(result.bytes) / 1e6 / max(seconds, 1e-9), out))
        if result.resumedShards > 0 { print("  resumed: kept \(result.resumedShards) complete shards from the interrupted run") }
        try errorBudget.settle(result.errors, tool: "pack-mix", more: "\(out)/errors.jsonl")
    }
}

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the parts of an array job (--partition I/N) and write index.json and errors.jsonl.",
        discussion: "Fails naming the partition when a part is missing or belongs to another plan, or when a shard or key appears twice.")
    @Option(help: "The folder every part wrote into.") var out: String

    func run() throws {
        let index = try Packer.merge(out: out)
        print("pack-mix merge: \(index.samples) samples in \(index.shards.count) shards, \(index.skipped) skipped -> \(out)/index.json")
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Re-hash and parse every shard against index.json.")
    @Argument(help: "The pack-mix output folder.") var folder: String

    func run() throws {
        let (samples, problems) = try Verifier.verify(folder)
        for problem in problems { print("problem: \(problem)") }
        print("pack-mix verify: \(samples) samples, \(problems.count) problems")
        if !problems.isEmpty { throw ExitCode(1) }
    }
}

struct Coco: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write COCO instances.json (RLE masks, crowd flags, the taxonomy as categories) from a manifest or shards.",
        discussion: """
            From --manifest, file_name is each image's absolute path; from --shards, the images are extracted to \
            OUT/images/ and file_name is relative to OUT (Detectron2: register_coco_instances(name, {}, \
            "OUT/instances.json", "OUT")). Category ids are the taxonomy ids + 1. COCO has no ignore region.
            """)
    @Option(help: "A manifest (folder or file).") var manifest: String?
    @Option(help: "Shards (glob or brace range).") var shards: String?
    @Option(help: "Output folder.") var out: String
    @Option(help: "Taxonomy (default: mappings/taxonomy.yaml).") var taxonomy: String?
    @OptionGroup var errorBudget: ErrorBudget

    func validate() throws {
        guard (manifest == nil) != (shards == nil) else { throw ValidationError("give --manifest or --shards") }
    }

    func run() throws {
        guard let taxonomyPath = taxonomy ?? Files.defaultMappingsDirectory().map({ "\($0)/taxonomy.yaml" }) else {
            throw ValidationError("no mappings/ folder found; name the taxonomy with --taxonomy or set SYNMIX_MAPPINGS")
        }
        let source: CocoExport.Source = try manifest.map { .manifest($0) } ?? .shards(ShardList.expand(shards!))
        let result = try CocoExport.export(source, taxonomy: try Taxonomy(contentsOf: taxonomyPath), to: out)
        print("pack-mix coco: \(result.images) images, \(result.annotations) annotations -> \(result.path)")
        if result.emptyMasks > 0 { print("  left out \(result.emptyMasks) instances whose mask is empty (no pixel at the exported size)") }
        try errorBudget.settle(result.skipped, tool: "pack-mix coco")   // each skipped sample is named with its shard (or line) and reason
    }
}

PackMixCommand.main()
