import Dispatch
import Foundation
import SynmixCore
import SynmixFormats

public enum HarmonizeError: Error, CustomStringConvertible, Equatable {
    case badRoot(String, String)
    case badOption(String)
    case empty(String)

    public var description: String {
        switch self {
        case let .badRoot(root, reason): return "\(root): \(reason)"
        case let .badOption(reason): return reason
        case let .empty(reason): return reason
        }
    }
}

public enum Dataset: String, Sendable, CaseIterable {
    case cityscapes, synscapes
}

public struct HarmonizeOptions: Sendable {
    public var dataset: Dataset
    public var root: String
    public var out: String
    public var split = SplitSelection.all
    public var mappingPath: String
    public var taxonomyPath: String
    public var jobs = ProcessInfo.processInfo.activeProcessorCount
    public var limit: Int?
    public var partition: (index: Int, count: Int)?   // 1-based index
    public var valFraction = 0.04
    public var verifyImages = false
    public var maxPixels = PNGDecodeOptions.defaultMaxPixels

    /// Every optional setting at its default (the required ones empty): what `harmonize --help` shows.
    public static var defaults: HarmonizeOptions { HarmonizeOptions(dataset: .cityscapes, root: "", out: "", mappingPath: "", taxonomyPath: "") }

    public init(dataset: Dataset, root: String, out: String, mappingPath: String, taxonomyPath: String) {
        self.dataset = dataset
        self.root = root
        self.out = out
        self.mappingPath = mappingPath
        self.taxonomyPath = taxonomyPath
    }
}

public struct HarmonizeResult: Sendable {
    public var discovered: Int
    public var written: Int
    public var errors: [FileError]
    public var summaryPath: String
    /// What summary.json holds: instance (and crowd) counts per split and class, classes in taxonomy order.
    public var summary: DatasetSummary
}

/// `harmonize`: one dataset in its original layout -> manifest.jsonl,
/// summary.json and errors.jsonl in the unified taxonomy.
public enum Harmonizer {
    /// Frames decoded at once per job: a few full-size frames (2048×1024 image and labels)
    /// per thread keep every thread busy while memory stays at tens of MB per job.
    static let framesInFlightPerJob = 16

    public static func run(_ options: HarmonizeOptions,
                           progress: @Sendable (_ done: Int, _ total: Int) -> Void = { _, _ in }) throws -> HarmonizeResult {
        guard options.jobs >= 1 else { throw HarmonizeError.badOption("--jobs must be at least 1") }
        let root = Files.absolute(options.root)
        guard Files.isDirectory(root) else { throw HarmonizeError.badRoot(root, "not a directory") }
        let taxonomy = try Taxonomy(contentsOf: options.taxonomyPath)
        let mapping = try LabelMapping(contentsOf: options.mappingPath, taxonomy: taxonomy)
        guard mapping.source == options.dataset.rawValue else {
            throw HarmonizeError.badOption("\(options.mappingPath) maps '\(mapping.source)', not \(options.dataset.rawValue)")
        }
        let reader: any DatasetReader
        switch options.dataset {
        case .cityscapes:
            reader = CityscapesReader(root: root, split: options.split, taxonomy: taxonomy, mapping: mapping,
                                      verifyImages: options.verifyImages, maxPixels: options.maxPixels)
        case .synscapes:
            reader = SynscapesReader(root: root, split: options.split, valFraction: options.valFraction,
                                     taxonomy: taxonomy, mapping: mapping,
                                     verifyImages: options.verifyImages, maxPixels: options.maxPixels)
        }

        try checkCoverage(mapping, labels: type(of: reader).sourceLabelIds,
                          instanceClasses: type(of: reader).sourceInstanceClassIds)
        let discovered = try reader.discover()
        guard !discovered.isEmpty else {
            throw HarmonizeError.empty("\(root): no \(options.dataset.rawValue) images found for split '\(options.split)'")
        }
        let selected = select(discovered, limit: options.limit, partition: options.partition)

        try Files.createDirectory(options.out)
        let manifest = try AtomicFile("\(options.out)/\(ManifestReader.fileName)")
        var summary = SummaryBuilder(taxonomy: taxonomy)
        var errors: [FileError] = []

        // Output in id order whatever --jobs is.
        var pending = selected.makeIterator()
        try orderedParallelMap(jobs: options.jobs, perJob: Self.framesInFlightPerJob, next: { pending.next() }, { sample in
            Result { () throws(FileError) in try reader.read(sample) }.map { record, stats in (record.jsonLine, record, stats) }
        }, consume: { result in
            switch result {
            case .success(let (line, record, stats)):
                try manifest.write(line + "\n")
                summary.add(record, stats)
            case .failure(let error):
                errors.append(error)
            }
        }, afterBatch: { progress($0, selected.count) })

        errors.sort { ($0.path, $0.reason) < ($1.path, $1.reason) }
        let errorLines = errors.map { $0.json.compact + "\n" }
        let written = summary.summary(options: options, root: root, taxonomy: taxonomy, mapping: mapping,
                                      discovered: discovered.count, selected: selected.count, errors: errors.count)
        try Files.writeAtomically(errorLines.joined(), to: "\(options.out)/errors.jsonl")
        try written.write(folder: options.out)
        try manifest.commit()
        return HarmonizeResult(discovered: discovered.count, written: summary.images, errors: errors,
                               summaryPath: "\(options.out)/\(DatasetSummary.fileName)", summary: written)
    }

    /// A mapping must say where every id the dataset can contain goes.
    static func checkCoverage(_ mapping: LabelMapping, labels: [Int], instanceClasses: [Int]) throws {
        let unmappedLabels = labels.filter { mapping.labels[$0] == nil }
        let unmappedClasses = instanceClasses.filter { mapping.instanceClasses[$0] == nil }
        var reasons: [String] = []
        if !unmappedLabels.isEmpty {
            reasons.append("source label ids \(unmappedLabels.map(String.init).joined(separator: ", ")) are not mapped in 'labels'")
        }
        if !unmappedClasses.isEmpty {
            reasons.append("instance classes \(unmappedClasses.map(String.init).joined(separator: ", ")) are not mapped in 'instance_classes'")
        }
        if !reasons.isEmpty {
            throw ConfigurationError(file: mapping.path, line: nil, reason: reasons.joined(separator: "; "))
        }
    }

    /// `--limit` takes the first N by id; `--partition I/N` then a contiguous
    /// 1/N of those, so the partitions' manifests concatenate, in order, to
    /// the unpartitioned one.
    static func select(_ samples: [SampleLocation], limit: Int?, partition: (index: Int, count: Int)?) -> [SampleLocation] {
        var selected = samples
        if let limit { selected = Array(selected.prefix(limit)) }
        if let (index, count) = partition {
            let lower = selected.count * (index - 1) / count, upper = selected.count * index / count
            selected = Array(selected[lower..<upper])
        }
        return selected
    }
}
