import SynmixCore
import SynmixFormats

/// Counts for summary.json, accumulated record by record.
struct SummaryBuilder {
    struct ClassCounts {
        var instances = 0
        var crowd = 0
        var pixels = 0
    }

    private let classNames: [String]
    private var perSplit: [String: (images: Int, classes: [String: ClassCounts])] = [:]
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
        var split = perSplit[record.split.rawValue] ?? (0, [:])
        split.images += 1
        for instance in record.instances {
            var counts = split.classes[instance.className] ?? ClassCounts()
            if instance.isCrowd { counts.crowd += 1 } else { counts.instances += 1 }
            counts.pixels += instance.area
            split.classes[instance.className] = counts
        }
        perSplit[record.split.rawValue] = split
    }

    var counts: [(split: String, images: Int, classes: [(name: String, instances: Int, crowd: Int)])] {
        perSplit.keys.sorted().map { name in
            let split = perSplit[name]!
            return (name, split.images, classNames.map { ($0, split.classes[$0]?.instances ?? 0, split.classes[$0]?.crowd ?? 0) })
        }
    }

    private func rows(_ classes: [String: ClassCounts]) -> [DatasetSummary.ClassCounts] {
        classNames.map { name in
            let counts = classes[name] ?? ClassCounts()
            return DatasetSummary.ClassCounts(name: name, instances: counts.instances, crowd: counts.crowd, pixels: counts.pixels)
        }
    }

    func summary(options: HarmonizeOptions, root: String, taxonomy: Taxonomy, mapping: LabelMapping,
                 discovered: Int, selected: Int, errors: Int) -> DatasetSummary {
        var all: [String: ClassCounts] = [:]
        for (_, split) in perSplit {
            for (name, counts) in split.classes {
                var total = all[name] ?? ClassCounts()
                total.instances += counts.instances
                total.crowd += counts.crowd
                total.pixels += counts.pixels
                all[name] = total
            }
        }
        var summary = DatasetSummary(
            dataset: options.dataset.rawValue, root: root, split: options.split,
            taxonomy: DatasetSummary.HashedFile(path: Files.absolute(options.taxonomyPath), sha256: taxonomy.sha256),
            mapping: DatasetSummary.HashedFile(path: Files.absolute(options.mappingPath), sha256: mapping.sha256))
        summary.limit = options.limit
        summary.partition = options.partition.map { "\($0.index)/\($0.count)" }
        summary.valFraction = options.dataset == .synscapes ? options.valFraction : nil
        (summary.discovered, summary.selected, summary.written, summary.failed) = (discovered, selected, images, errors)
        summary.splits = perSplit.keys.sorted().map { name in
            DatasetSummary.SplitCounts(name: name, images: perSplit[name]!.images, classes: rows(perSplit[name]!.classes))
        }
        summary.classes = rows(all)
        summary.ignorePixelFraction = totalPixels == 0 ? 0 : Double(ignorePixels) / Double(totalPixels)
        summary.instancesSplit = instancesSplit
        summary.metaEntriesWithoutPixels = metaEntriesWithoutPixels
        return summary
    }
}
