/// Encodes every distinct value of a label image as its own RLE in one
/// column-major pass: the per-image cost is one read of each pixel plus one
/// table update at each change of value, instead of one full-image mask per
/// instance (what the Python pipeline does).
public enum RegionEncoder {
    /// Returns one RLE per value present, ascending by value.
    /// `labels` is row-major `[height][width]`.
    public static func encode<Label: FixedWidthInteger & UnsignedInteger>(
        _ labels: UnsafeBufferPointer<Label>, height: Int, width: Int
    ) -> [(label: Label, mask: RLE)] {
        precondition(labels.count == height * width)
        guard height > 0, width > 0 else { return [] }
        var regions = RegionTable<Label>()
        var current = labels[0]
        var slot = regions.slot(for: current)
        regions.open(slot, at: 0)
        var position = 0
        for x in 0..<width {
            var index = x
            for _ in 0..<height {
                let value = labels[index]
                if value != current {
                    regions.close(slot, at: position)
                    current = value
                    slot = regions.slot(for: value)
                    regions.open(slot, at: position)
                }
                position += 1
                index += width
            }
        }
        regions.close(slot, at: position)
        return regions.finish(total: position, height: height, width: width)
    }
}

/// Per-value run bookkeeping for RegionEncoder.
private struct RegionTable<Label: FixedWidthInteger & UnsignedInteger> {
    private var labels: [Label] = []
    private var counts: [[UInt32]] = []
    private var runStart: [Int] = []
    private var lastEnd: [Int] = []
    // Labels of up to 16 bits (Cityscapes ids) use a direct table; wider ones a dictionary.
    private var dense: [Int32] = Label.bitWidth <= 16 ? [Int32](repeating: -1, count: 1 << Label.bitWidth) : []
    private var sparse: [Label: Int] = [:]

    mutating func slot(for label: Label) -> Int {
        if Label.bitWidth <= 16 {
            let key = Int(label)
            if dense[key] >= 0 { return Int(dense[key]) }
            dense[key] = Int32(labels.count)
        } else {
            if let known = sparse[label] { return known }
            sparse[label] = labels.count
        }
        labels.append(label)
        counts.append([])
        runStart.append(0)
        lastEnd.append(0)
        return labels.count - 1
    }

    mutating func open(_ slot: Int, at position: Int) {
        counts[slot].append(UInt32(position - lastEnd[slot]))   // background since the last run
        runStart[slot] = position
    }

    mutating func close(_ slot: Int, at position: Int) {
        counts[slot].append(UInt32(position - runStart[slot]))
        lastEnd[slot] = position
    }

    func finish(total: Int, height: Int, width: Int) -> [(label: Label, mask: RLE)] {
        labels.indices.sorted { labels[$0] < labels[$1] }.map { slot in
            var runs = counts[slot]
            if lastEnd[slot] < total { runs.append(UInt32(total - lastEnd[slot])) }
            return (labels[slot], RLE(canonical: runs, height: height, width: width))
        }
    }
}
