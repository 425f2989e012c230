import SynmixCore
import SynmixFormats

/// Counts for report.json / report.md, accumulated record by record.
struct FilterReport {
    struct ClassCounts {
        var instances = 0
        var crowd = 0
        var kept = 0
        var removed = 0
        var byRule: [FilterRule: Int] = [:]
        var pixelsToIgnore = 0
    }

    /// Area bins (px): [0,16), [16,32), … doubling, the last open-ended.
    static let areaEdges: [Int] = [0] + (4...20).map { 1 << $0 }
    /// Occlusion bins: tenths, the last closed ([0.9, 1.0]).
    static let occlusionBins = 10

    let classNames: [String]
    private(set) var classes: [String: ClassCounts] = [:]
    private(set) var records = 0
    private(set) var recordsChanged = 0
    private var areaBefore = [Int](repeating: 0, count: FilterReport.areaEdges.count)
    private var areaAfter = [Int](repeating: 0, count: FilterReport.areaEdges.count)
    private var occlusionBefore = [Int](repeating: 0, count: FilterReport.occlusionBins)
    private var occlusionAfter = [Int](repeating: 0, count: FilterReport.occlusionBins)
    private var withoutOcclusionBefore = 0
    private var withoutOcclusionAfter = 0

    init(taxonomy: Taxonomy) {
        classNames = taxonomy.classes.filter(\.hasInstances).map(\.name)
    }

    private static func areaBin(_ area: Int) -> Int { (areaEdges.lastIndex { $0 <= area }) ?? 0 }
    private static func occlusionBin(_ value: Double) -> Int { min(occlusionBins - 1, max(0, Int(value * Double(occlusionBins)))) }

    mutating func add(_ input: ManifestRecord, _ outcome: FilterOutcome) {
        records += 1
        if !outcome.removed.isEmpty { recordsChanged += 1 }
        for instance in input.instances {
            var counts = classes[instance.className] ?? ClassCounts()
            counts.instances += 1
            if instance.isCrowd { counts.crowd += 1 }
            classes[instance.className] = counts
            guard !instance.isCrowd else { continue }
            areaBefore[Self.areaBin(instance.area)] += 1
            if let occlusion = instance.occlusion { occlusionBefore[Self.occlusionBin(occlusion)] += 1 } else { withoutOcclusionBefore += 1 }
        }
        for instance in outcome.record.instances {
            classes[instance.className]!.kept += 1
            guard !instance.isCrowd else { continue }
            areaAfter[Self.areaBin(instance.area)] += 1
            if let occlusion = instance.occlusion { occlusionAfter[Self.occlusionBin(occlusion)] += 1 } else { withoutOcclusionAfter += 1 }
        }
        for (instance, rules) in outcome.removed {
            classes[instance.className]!.removed += 1
            for rule in rules { classes[instance.className]!.byRule[rule, default: 0] += 1 }
        }
        if outcome.pixelsToIgnore > 0 {
            // Attribute moved pixels to classes by the removed masks' areas (masks are disjoint).
            for (instance, _) in outcome.removed { classes[instance.className]!.pixelsToIgnore += instance.area }
        }
    }

    /// Class names in taxonomy order, then any others the manifest used.
    var orderedClasses: [String] { classNames + classes.keys.filter { !classNames.contains($0) }.sorted() }

    var totals: ClassCounts {
        classes.values.reduce(into: ClassCounts()) { total, counts in
            total.instances += counts.instances
            total.crowd += counts.crowd
            total.kept += counts.kept
            total.removed += counts.removed
            total.pixelsToIgnore += counts.pixelsToIgnore
            for (rule, count) in counts.byRule { total.byRule[rule, default: 0] += count }
        }
    }

    func file(policy: RemovalPolicy, thresholds: ThresholdTable, input: String, errors: Int) -> FilterReportFile {
        func row(_ counts: ClassCounts) -> FilterReportFile.Counts {
            var row = FilterReportFile.Counts()
            (row.instances, row.crowd, row.kept, row.removed, row.pixelsToIgnore) =
                (counts.instances, counts.crowd, counts.kept, counts.removed, counts.pixelsToIgnore)
            row.removedByRule = FilterRule.allCases.map { ($0.rawValue, counts.byRule[$0] ?? 0) }
            return row
        }
        let areaLabels = Self.areaEdges.enumerated().map { index, edge in
            index + 1 < Self.areaEdges.count ? "[\(edge),\(Self.areaEdges[index + 1]))" : "[\(edge),inf)"
        }
        let occlusionLabels = (0..<Self.occlusionBins).map { k in
            String(format: k + 1 < Self.occlusionBins ? "[%.1f,%.1f)" : "[%.1f,%.1f]", Double(k) / 10, Double(k + 1) / 10)
        }
        var file = FilterReportFile(input: input, policy: policy.rawValue,
                                    area: .init(bins: areaLabels, before: areaBefore, after: areaAfter),
                                    occlusion: .init(bins: occlusionLabels, before: occlusionBefore, after: occlusionAfter))
        (file.records, file.recordsChanged, file.errors) = (records, recordsChanged, errors)
        file.defaults = FilterRule.allCases.map { ($0.rawValue, thresholds.defaults[$0]!) }
        file.classThresholds = orderedClasses.compactMap { name in
            thresholds.classes[name].map { rules in (name, rules.keys.sorted().map { ($0.rawValue, rules[$0]!) }) }
        }
        file.totals = row(totals)
        file.classes = orderedClasses.map { ($0, row(classes[$0] ?? ClassCounts())) }
        (file.withoutOcclusionBefore, file.withoutOcclusionAfter) = (withoutOcclusionBefore, withoutOcclusionAfter)
        return file
    }

    /// The headline table: one row per class, removals per rule.
    var headline: String {
        let rules = FilterRule.allCases
        var lines = ["| class | instances | crowd | kept | removed | " + rules.map(\.rawValue).joined(separator: " | ") + " | px to ignore |",
                     "|---|" + String(repeating: "---:|", count: 5 + rules.count)]
        func line(_ name: String, _ c: ClassCounts) -> String {
            "| \(name) | \(c.instances) | \(c.crowd) | \(c.kept) | \(c.removed) | "
                + rules.map { String(c.byRule[$0] ?? 0) }.joined(separator: " | ") + " | \(c.pixelsToIgnore) |"
        }
        for name in orderedClasses { lines.append(line(name, classes[name] ?? ClassCounts())) }
        lines.append(line("**all**", totals))
        return lines.joined(separator: "\n")
    }

    func markdown(policy: RemovalPolicy, thresholds: String, input: String, errors: Int) -> String {
        var out = "# filter-instances report\n\n"
        out += "Input `\(input)`: \(records) records, \(recordsChanged) changed, \(errors) unreadable. Policy: `\(policy.rawValue)`"
        out += policy == .ignore ? " (removed pixels join the ignore region).\n\n" : " (removed instances become background).\n\n"
        out += "## Instances per class and rule\n\nAn instance can fail several rules; each is counted. Crowd regions are never removed.\n\n"
        out += headline + "\n\n"
        out += "## Area (px) of non-crowd instances\n\n| bin | before | after |\n|---|---:|---:|\n"
        for (index, edge) in Self.areaEdges.enumerated() {
            let label = index + 1 < Self.areaEdges.count ? "\(edge)–\(Self.areaEdges[index + 1] - 1)" : "≥ \(edge)"
            out += "| \(label) | \(areaBefore[index]) | \(areaAfter[index]) |\n"
        }
        out += "\n## Occlusion of non-crowd instances\n\n| bin | before | after |\n|---|---:|---:|\n"
        for k in 0..<Self.occlusionBins {
            out += String(format: "| %.1f–%.1f | %d | %d |\n", Double(k) / 10, Double(k + 1) / 10, occlusionBefore[k], occlusionAfter[k])
        }
        out += "| (no occlusion attribute) | \(withoutOcclusionBefore) | \(withoutOcclusionAfter) |\n"
        out += "\n## Thresholds applied\n\n```yaml\n\(thresholds)```\n"
        return out
    }
}
