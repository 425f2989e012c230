/// Resampling for images and label masks.
public enum Resize {
    /// The size of `width` × `height` scaled by `scale` (at least 1 × 1).
    public static func size(width: Int, height: Int, scale: Double) -> (width: Int, height: Int) {
        (max(1, Int((Double(width) * scale).rounded())), max(1, Int((Double(height) * scale).rounded())))
    }

    /// Image resampling: area averaging where an axis shrinks (every source
    /// pixel contributes by the area it covers), bilinear where it grows.
    public static func image(_ source: Raster<UInt8>, width: Int, height: Int) -> Raster<UInt8> {
        if source.width == width && source.height == height { return source }
        let channels = source.channels
        let horizontal = Taps(taps(from: source.width, to: width))
        let vertical = Taps(taps(from: source.height, to: height))
        // Rows first (source rows × output columns), then columns; flat tap
        // tables and raw pointers keep the inner loops free of array overhead.
        var rows = [Float](repeating: 0, count: source.height * width * channels)
        var out = [UInt8](repeating: 0, count: width * height * channels)
        source.samples.withUnsafeBufferPointer { input in
            rows.withUnsafeMutableBufferPointer { rows in
                for y in 0..<source.height {
                    let inRow = y * source.width * channels, outRow = y * width * channels
                    for x in 0..<width {
                        for t in horizontal.range(x) {
                            let from = inRow + horizontal.index[t] * channels, weight = horizontal.weight[t]
                            for c in 0..<channels { rows[outRow + x * channels + c] += weight * Float(input[from + c]) }
                        }
                    }
                }
                out.withUnsafeMutableBufferPointer { out in
                    let stride = width * channels
                    var accumulator = [Float](repeating: 0, count: stride)
                    accumulator.withUnsafeMutableBufferPointer { sum in
                        for y in 0..<height {
                            for i in 0..<stride { sum[i] = 0 }
                            for t in vertical.range(y) {   // whole rows at a time: vectorises
                                let from = vertical.index[t] * stride, weight = vertical.weight[t]
                                for i in 0..<stride { sum[i] += weight * rows[from + i] }
                            }
                            let outRow = y * stride
                            for i in 0..<stride { out[outRow + i] = UInt8(max(0, min(255, Int(sum[i] + 0.5)))) }
                        }
                    }
                }
            }
        }
        return Raster(width: width, height: height, channels: channels, samples: out)
    }

    /// A tap table flattened: taps of output `o` are `start[o] ..< start[o + 1]`.
    struct Taps {
        var start: [Int] = [0]
        var index: [Int] = []
        var weight: [Float] = []
        init(_ taps: [[(Int, Float)]]) {
            for list in taps {
                for (i, w) in list { index.append(i); weight.append(w) }
                start.append(index.count)
            }
        }
        func range(_ o: Int) -> Range<Int> { start[o]..<start[o + 1] }
    }

    /// Source indices and weights (summing to 1) for each output index along one axis.
    static func taps(from input: Int, to output: Int) -> [[(Int, Float)]] {
        let scale = Double(output) / Double(input)
        return (0..<output).map { o in
            if scale < 1 {   // area: the source interval [o, o + 1) / scale
                let start = Double(o) / scale, end = Double(o + 1) / scale
                var taps: [(Int, Float)] = []
                var i = Int(start)
                while Double(i) < end && i < input {
                    let covered = min(end, Double(i + 1)) - max(start, Double(i))
                    if covered > 1e-9 { taps.append((i, Float(covered * scale))) }
                    i += 1
                }
                return taps
            }
            // bilinear between the two nearest source centres
            let centre = (Double(o) + 0.5) / scale - 0.5
            let left = max(0, min(input - 1, Int(centre.rounded(.down))))
            let right = min(input - 1, left + 1)
            let t = Float(max(0, min(1, centre - Double(left))))
            return left == right ? [(left, Float(1))] : [(left, 1 - t), (right, t)]
        }
    }

    /// Instances and ignore region resized together by nearest neighbour, so
    /// that they stay disjoint and aligned with the resized image. Returns the
    /// masks in input order (nil for an instance with no pixel left) and the ignore region.
    public static func masks(_ instances: [RLE], ignore: RLE?, width: Int, height: Int) -> (instances: [RLE?], ignore: RLE?) {
        guard let first = instances.first ?? ignore else { return (instances.map { $0 }, ignore) }
        let (sourceWidth, sourceHeight) = (first.width, first.height)
        // Label map: 0 background, 1 ignore, k + 2 instance k.
        var labels = [UInt32](repeating: 0, count: sourceWidth * sourceHeight)
        func paint(_ mask: RLE, _ value: UInt32) { mask.forEachForegroundPixel { labels[$0] = value } }
        if let ignore { paint(ignore, 1) }
        for (index, mask) in instances.enumerated() { paint(mask, UInt32(index + 2)) }
        let columns = (0..<width).map { min(sourceWidth - 1, Int((Double($0) + 0.5) * Double(sourceWidth) / Double(width))) }
        var resized = [UInt32](repeating: 0, count: width * height)
        for y in 0..<height {
            let sourceRow = min(sourceHeight - 1, Int((Double(y) + 0.5) * Double(sourceHeight) / Double(height))) * sourceWidth
            for x in 0..<width { resized[y * width + x] = labels[sourceRow + columns[x]] }
        }
        let regions = resized.withUnsafeBufferPointer { RegionEncoder.encode($0, height: height, width: width) }
        var out = [RLE?](repeating: nil, count: instances.count)
        var newIgnore: RLE?
        for (label, mask) in regions {
            if label == 1 { newIgnore = mask } else if label >= 2 { out[Int(label) - 2] = mask }
        }
        return (out, newIgnore)
    }
}
