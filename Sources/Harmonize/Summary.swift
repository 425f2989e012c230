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
        var split = perSplit[record.split] ?? (0, [:])
        split.images += 1
        for instance in record.instances {
            var counts = split.classes[instance.className] ?? ClassCounts()
            if instance.isCrowd { counts.crowd += 1 } else { counts.instances += 1 }
            counts.pixels += instance.area
            split.classes[instance.className] = counts
        }
        perSplit[record.split] = split
    }

    var counts: [(split: String, images: Int, classes: [(name: String, instances: Int, crowd: Int)])] {
        perSplit.keys.sorted().map { name in
            let split = perSplit[name]!
            return (name, split.images, classNames.map { ($0, split.classes[$0]?.instances ?? 0, split.classes[$0]?.crowd ?? 0) })
        }
    }

    private func classTable(_ classes: [String: ClassCounts]) -> JSON {
        .object(classNames.map { name in
            let counts = classes[name] ?? ClassCounts()
            return (name, .object([("instances", .int(counts.instances)), ("crowd", .int(counts.crowd)),
                                   ("pixels", .int(counts.pixels))]))
        })
    }

    func json(options: HarmonizeOptions, root: String, taxonomy: Taxonomy, mapping: LabelMapping,
              discovered: Int, selected: Int, errors: Int) -> JSON {
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
        return .object([
            ("synmix_version", .string(synmixVersion)),
            ("dataset", .string(options.dataset.rawValue)),
            ("root", .string(root)),
            ("split", .string(options.split)),
            ("limit", options.limit.map { .int($0) } ?? .null),
            ("partition", options.partition.map { .string("\($0.index)/\($0.count)") } ?? .null),
            ("val_fraction", options.dataset == .synscapes ? .double(options.valFraction) : .null),
            ("images", .object([("discovered", .int(discovered)), ("selected", .int(selected)),
                                ("written", .int(images)), ("failed", .int(errors))])),
            ("errors", .int(errors)),
            ("splits", .object(perSplit.keys.sorted().map { name in
                (name, .object([("images", .int(perSplit[name]!.images)),
                                ("classes", classTable(perSplit[name]!.classes))]))
            })),
            ("classes", classTable(all)),
            ("ignore_pixel_fraction", .double(totalPixels == 0 ? 0 : Double(ignorePixels) / Double(totalPixels))),
            ("instances_split", .int(instancesSplit)),
            ("meta_entries_without_pixels", .int(metaEntriesWithoutPixels)),
            ("mappings", .object([
                ("taxonomy", .object([("path", .string(Files.absolute(options.taxonomyPath))), ("sha256", .string(taxonomy.sha256))])),
                ("mapping", .object([("path", .string(Files.absolute(options.mappingPath))), ("sha256", .string(mapping.sha256))])),
            ])),
        ])
    }
}
