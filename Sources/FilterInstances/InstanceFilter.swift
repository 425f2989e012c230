import SynmixCore
import SynmixFormats

public enum RemovalPolicy: String, Sendable, CaseIterable {
    /// A removed instance's pixels join the ignore region: no loss, no metric there.
    case ignore
    /// A removed instance disappears; its pixels count as background.
    case drop
}

/// What filtering did to one record.
public struct FilterOutcome: Sendable {
    public var record: ManifestRecord
    /// The instances removed (as they were in the input) and the rules each failed.
    public var removed: [(instance: InstanceRecord, rules: [FilterRule])]
    /// Pixels that joined the ignore region (policy ignore).
    public var pixelsToIgnore: Int
}

public struct InstanceFilter: Sendable {
    public var thresholds: ThresholdTable
    public var policy: RemovalPolicy

    public init(thresholds: ThresholdTable, policy: RemovalPolicy) {
        self.thresholds = thresholds
        self.policy = policy
    }

    /// The rules an instance fails; empty means it is kept. Crowd regions are
    /// never removed, and a rule whose attribute is missing does not apply.
    /// `unitArea` is the visible area of the whole source object: a bicyclist
    /// split into rider and bicycle shares one amodal box, so the visible
    /// fraction is the two parts' area over it, not each part's.
    public func failedRules(_ instance: InstanceRecord, unitArea: Int? = nil) -> [FilterRule] {
        guard !instance.isCrowd else { return [] }
        func limit(_ rule: FilterRule) -> Double { thresholds.value(rule, for: instance.className) }
        var failed: [FilterRule] = []
        let bbox = instance.bbox
        if Double(instance.area) < limit(.minArea) { failed.append(.minArea) }
        if Double(bbox[3]) < limit(.minHeight) { failed.append(.minHeight) }
        if Double(bbox[2]) < limit(.minWidth) { failed.append(.minWidth) }
        if let occlusion = instance.occlusion, occlusion > limit(.maxOcclusion) { failed.append(.maxOcclusion) }
        if let truncation = instance.truncation, truncation > limit(.maxTruncation) { failed.append(.maxTruncation) }
        if let amodal = instance.amodalBBox, amodal.count == 4, amodal[2] * amodal[3] > 0,
           Double(unitArea ?? instance.area) / (amodal[2] * amodal[3]) < limit(.minVisibleFraction) {
            failed.append(.minVisibleFraction)
        }
        return failed
    }

    public func apply(_ record: ManifestRecord) -> FilterOutcome {
        var kept: [InstanceRecord] = []
        var removed: [(InstanceRecord, [FilterRule])] = []
        var unitAreas: [Int: Int] = [:]
        for instance in record.instances where instance.amodalBBox != nil { unitAreas[instance.sourceId, default: 0] += instance.area }
        for instance in record.instances {
            let failed = failedRules(instance, unitArea: unitAreas[instance.sourceId])
            if failed.isEmpty {
                var renumbered = instance
                renumbered.id = kept.count   // ids stay the list index
                kept.append(renumbered)
            } else {
                removed.append((instance, failed))
            }
        }
        var output = record
        output.instances = kept
        var moved = 0
        if policy == .ignore && !removed.isEmpty {
            let before = record.ignore?.area ?? 0
            let masks = removed.map(\.0.mask) + (record.ignore.map { [$0] } ?? [])
            let ignore = RLE.union(masks, height: record.height, width: record.width)
            output.ignore = ignore
            moved = ignore.area - before
        }
        return FilterOutcome(record: output, removed: removed, pixelsToIgnore: moved)
    }
}
