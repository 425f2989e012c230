/// Encodes every distinct value of a label image as its own RLE in one
/// column-major pass: the per-image cost is one read of each pixel plus one
/// table update at each change of value, instead of one full-image mask per
/// instance (what the Python pipeline does).
public enum RegionEncoder {
    /// Returns one RLE per value present, ascending by value.
    /// `labels` is row-major `[height][width]` (Cityscapes instance ids).
    public static func encode(_ labels: UnsafeBufferPointer<UInt16>, height: Int, width: Int) -> [(label: UInt16, mask: RLE)] {
        encodeAny(labels, height: height, width: width)
    }

    /// The same for wide keys (Synscapes instance id × class).
    public static func encode(_ labels: UnsafeBufferPointer<UInt64>, height: Int, width: Int) -> [(label: UInt64, mask: RLE)] {
        encodeAny(labels, height: height, width: width)
    }

    public static func encode(_ labels: UnsafeBufferPointer<UInt32>, height: Int, width: Int) -> [(label: UInt32, mask: RLE)] {
        encodeAny(labels, height: height, width: width)
    }

    /// 8-bit masks (prediction PNGs): every value present, ascending.
    public static func encode(_ labels: UnsafeBufferPointer<UInt8>, height: Int, width: Int) -> [(label: UInt8, mask: RLE)] {
        encodeAny(labels, height: height, width: width)
    }

    /// The nonzero pixels of a row-major 8-bit mask as one RLE, without a binarising pass.
    public static func nonzero(_ pixels: UnsafeBufferPointer<UInt8>, height: Int, width: Int) -> RLE {
        let regions = encode(pixels, height: height, width: width).filter { $0.label != 0 }
        if regions.count == 1 { return regions[0].mask }
        return RLE.union(regions.map(\.mask), height: height, width: width)
    }

    // Generic body, specialised by the concrete entry points above (a generic
    // called across modules would go through value witnesses per pixel).
    private static func encodeAny<Label: FixedWidthInteger & UnsignedInteger>(
        _ labels: UnsafeBufferPointer<Label>, height: Int, width: Int
    ) -> [(label: Label, mask: RLE)] {
        precondition(labels.count == height * width)
        guard height > 0, width > 0 else { return [] }
        // A run boundary in column-major order is a pixel that differs from the
        // one above it (or, at the top of a column, from the bottom of the
        // previous column). Finding them compares each row with the previous
        // one, eight bytes at a time, in memory order; the boundaries are then
        // bucketed by column so they come out in column-major order.
        var perColumn = [Int](repeating: 0, count: width + 1)
        forEachVerticalChange(labels, height: height, width: width) { x, _ in perColumn[x + 1] += 1 }
        for x in 0..<width { perColumn[x + 1] += perColumn[x] }
        var cursor = perColumn
        var changes = [Int32](repeating: 0, count: perColumn[width])
        forEachVerticalChange(labels, height: height, width: width) { x, y in
            changes[cursor[x]] = Int32(y)
            cursor[x] += 1
        }

        var regions = RegionTable<Label>()
        var slot = regions.slot(for: labels[0])
        regions.open(slot, at: 0)
        for x in 0..<width {
            for event in perColumn[x]..<perColumn[x + 1] {
                let y = Int(changes[event])
                let value = labels[y * width + x]
                let position = x * height + y
                regions.close(slot, at: position)
                slot = regions.slot(for: value)
                regions.open(slot, at: position)
            }
        }
        let position = width * height
        regions.close(slot, at: position)
        return regions.finish(total: position, height: height, width: width)
    }
}

/// Calls `body(x, y)`, row by row, for every pixel whose value differs from
/// the pixel before it in column-major order: the one above, or for y = 0 the
/// last pixel of the previous column.
private func forEachVerticalChange<Label: FixedWidthInteger>(
    _ labels: UnsafeBufferPointer<Label>, height: Int, width: Int, _ body: (Int, Int) -> Void
) {
    for x in 1..<max(width, 1) where labels[x] != labels[(height - 1) * width + x - 1] { body(x, 0) }
    let perWord = 8 / MemoryLayout<Label>.stride
    let raw = UnsafeRawPointer(labels.baseAddress!)
    for y in 1..<max(height, 1) {
        let row = y * width, above = row - width
        var x = 0
        if perWord > 1 {
            // Skip eight bytes at a time where the row equals the row above.
            while x + perWord <= width {
                let a = raw.loadUnaligned(fromByteOffset: (row + x) * MemoryLayout<Label>.stride, as: UInt64.self)
                let b = raw.loadUnaligned(fromByteOffset: (above + x) * MemoryLayout<Label>.stride, as: UInt64.self)
                if a != b {
                    for dx in x..<(x + perWord) where labels[row + dx] != labels[above + dx] { body(dx, y) }
                }
                x += perWord
            }
        }
        while x < width {
            if labels[row + x] != labels[above + x] { body(x, y) }
            x += 1
        }
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
