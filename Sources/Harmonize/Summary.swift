import SynmixCore
import SynmixFormats

/// Counts for summary.json, accumulated record by record.
struct SummaryBuilder {
    typealias ClassCounts = DatasetSummary.ClassCounts

    private let classNames: [String]
    private var perSplit: [Split: (images: Int, classes: [String: ClassCounts])] = [:]
    private(set) var images = 0
    private var ignorePixels = 0
    private var totalPixels = 0
    private var instancesSplit = 0
    private var metaEntriesWithoutPixels = 0

    init(taxonomy: Taxonomy) {
        classNames = taxonomy.classes.filter(\.hasInstances).map(\.name)
    }

    mutating func add(_ record: ManifestRecord, _ stats: SampleStats) {
        images += 1
        totalPixels += record.width * record.height
        ignorePixels += record.ignore?.area ?? 0
        instancesSplit += stats.instancesSplit
        metaEntriesWithoutPixels += stats.metaEntriesWithoutPixels
        var split = perSplit[record.split] ?? (0, [:])
        split.images += 1
        for instance in record.instances {
            split.classes[instance.className, default: ClassCounts(name: instance.className)].add(instance)
        }
        perSplit[record.split] = split
    }

    /// Each class of the taxonomy, in its order, with its counts (zero where none).
    private func rows(_ classes: [String: ClassCounts]) -> [ClassCounts] {
        classNames.map { classes[$0] ?? ClassCounts(name: $0) }
    }

    func summary(options: HarmonizeOptions, root: String, taxonomy: Taxonomy, mapping: LabelMapping,
                 discovered: Int, selected: Int, errors: Int) -> DatasetSummary {
        var all: [String: ClassCounts] = [:]
        for split in perSplit.values {
            for (name, counts) in split.classes { all[name, default: ClassCounts(name: name)].add(counts) }
        }
        var summary = DatasetSummary(
            dataset: options.dataset.rawValue, root: root, split: options.split,
            taxonomy: DatasetSummary.HashedFile(path: Files.absolute(options.taxonomyPath), sha256: taxonomy.sha256),
            mapping: DatasetSummary.HashedFile(path: Files.absolute(options.mappingPath), sha256: mapping.sha256))
        summary.limit = options.limit
        summary.partition = options.partition.map { "\($0.index)/\($0.count)" }
        summary.valFraction = options.dataset == .synscapes ? options.valFraction : nil
        (summary.discovered, summary.selected, summary.written, summary.failed) = (discovered, selected, images, errors)
        summary.splits = perSplit.keys.sorted().map { split in
            DatasetSummary.SplitCounts(name: split.rawValue, images: perSplit[split]!.images, classes: rows(perSplit[split]!.classes))
        }
        summary.classes = rows(all)
        summary.ignorePixelFraction = totalPixels == 0 ? 0 : Double(ignorePixels) / Double(totalPixels)
        summary.instancesSplit = instancesSplit
        summary.metaEntriesWithoutPixels = metaEntriesWithoutPixels
        return summary
    }
}
