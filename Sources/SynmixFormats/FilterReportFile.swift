import SynmixCore

/// filter-instances' `report.json`: what was kept and removed, per class and rule, and the size and occlusion
/// histograms before and after. Written only here (report.md, for reading, says the same).
public struct FilterReportFile: Sendable {
    public static let fileName = "report.json"

    public struct Counts: Sendable {
        public var instances = 0, crowd = 0, kept = 0, removed = 0, pixelsToIgnore = 0
        /// Per rule, in the rules' order (an instance failing several counts in each).
        public var removedByRule: [(rule: String, count: Int)] = []
        public init() {}
    }

    /// Counts per bin: the bins' labels, before and after filtering.
    public struct Histogram: Sendable {
        public var bins: [String], before: [Int], after: [Int]
        public init(bins: [String], before: [Int], after: [Int]) { (self.bins, self.before, self.after) = (bins, before, after) }
    }

    public var input: String, policy: String
    public var records = 0, recordsChanged = 0, errors = 0
    /// The thresholds applied: every rule's default, and each class's overrides.
    public var defaults: [(rule: String, value: Double)] = []
    public var classThresholds: [(className: String, rules: [(rule: String, value: Double)])] = []
    public var totals = Counts()
    public var classes: [(className: String, counts: Counts)] = []
    public var area: Histogram, occlusion: Histogram
    /// Instances without an occlusion value (real data), before and after.
    public var withoutOcclusionBefore = 0, withoutOcclusionAfter = 0

    public init(input: String, policy: String, area: Histogram, occlusion: Histogram) {
        (self.input, self.policy, self.area, self.occlusion) = (input, policy, area, occlusion)
    }

    public var json: JSON {
        func row(_ counts: Counts) -> JSON {
            .object([("instances", .int(counts.instances)), ("crowd", .int(counts.crowd)), ("kept", .int(counts.kept)),
                     ("removed", .int(counts.removed)),
                     ("removed_by_rule", .object(counts.removedByRule.map { ($0.rule, .int($0.count)) })),
                     ("pixels_to_ignore", .int(counts.pixelsToIgnore))])
        }
        return .object([
            ("synmix_version", .string(synmixVersion)),
            ("input", .string(input)),
            ("policy", .string(policy)),
            ("records", .int(records)),
            ("records_changed", .int(recordsChanged)),
            ("errors", .int(errors)),
            ("thresholds", .object([
                ("defaults", .object(defaults.map { ($0.rule, .double($0.value)) })),
                ("classes", .object(classThresholds.map { ($0.className, .object($0.rules.map { ($0.rule, .double($0.value)) })) })),
            ])),
            ("totals", row(totals)),
            ("classes", .object(classes.map { ($0.className, row($0.counts)) })),
            ("histograms", .object([
                ("area_bins", .array(area.bins.map { .string($0) })),
                ("area_before", .array(area.before.map { .int($0) })),
                ("area_after", .array(area.after.map { .int($0) })),
                ("occlusion_bins", .array(occlusion.bins.map { .string($0) })),
                ("occlusion_before", .array(occlusion.before.map { .int($0) })),
                ("occlusion_after", .array(occlusion.after.map { .int($0) })),
                ("without_occlusion_before", .int(withoutOcclusionBefore)),
                ("without_occlusion_after", .int(withoutOcclusionAfter)),
            ])),
        ])
    }
}
