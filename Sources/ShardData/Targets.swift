import Foundation
import SynmixCore
import SynmixFormats

/// A shard sample decoded: its record (masks at the sample's resolution) and RGB pixels.
public struct DecodedSample: Sendable {
    public var record: SampleRecord
    public var key: String { record.key }
    public var shard: String            // the shard it came from, for reports
    public var pixels: Raster<UInt8>   // 3 channels, record.width × record.height

    /// Parses the JSON and decodes the image; errors name the shard and the sample.
    public init(_ sample: ShardSample) throws {
        shard = sample.shard
        func fail(_ reason: String) -> FileError { FileError(path: sample.shard, reason: "sample \(sample.key): \(reason)") }
        do { record = try SampleRecord(bytes: sample.json, file: "\(sample.key).json") } catch { throw fail("\(error)") }
        guard record.key == sample.key, record.imageFormat.rawValue == sample.imageFormat else {
            throw fail("the json names sample \(record.key).\(record.imageFormat.rawValue), the members are \(sample.key).\(sample.imageFormat)")
        }
        let name = "\(sample.shard):\(sample.key).\(sample.imageFormat)"
        let raster: Raster<UInt8>
        do { raster = try record.imageFormat.decode8Bit(sample.image, path: name) } catch let error as FileError { throw error } catch {
            throw fail("image: \(error)")
        }
        guard raster.width == record.width, raster.height == record.height else {
            throw fail("image is \(raster.width)×\(raster.height), the record says \(record.width)×\(record.height)")
        }
        pixels = Self.rgb(raster)
    }

    /// The instances whose class is not among `classes` (`scope` says what those are), named in one
    /// report for the sample, or nil when there are none. The sample is still used: the trainer
    /// learns nothing on such an instance (its pixels get no class, centre or offset target, as an
    /// ignore region) and the evaluator makes it part of the ignore region, so neither drops it
    /// without a word.
    public func unknownClasses(_ classes: [String], scope: String) -> FileError? {
        let unknown = record.instances.filter { !classes.contains($0.className) }
        guard !unknown.isEmpty else { return nil }
        let named = unknown.map { "instance \($0.id) has class '\($0.className)'" }.joined(separator: ", ")
        return FileError(path: shard, reason: "sample \(key): \(named), outside \(scope) (\(classes.joined(separator: ", "))); "
                         + "used as an ignore region")
    }

    static func rgb(_ raster: Raster<UInt8>) -> Raster<UInt8> {
        if raster.channels == 3 { return raster }
        var out = Raster<UInt8>(width: raster.width, height: raster.height, channels: 3)
        for i in 0..<raster.width * raster.height {
            for c in 0..<3 { out.samples[i * 3 + c] = raster.samples[i * raster.channels + (raster.channels >= 3 ? c : 0)] }
        }
        return out
    }

    /// Per pixel: the instance index, -1 for no instance, -2 for the ignore region.
    /// Painted run by run through a pointer: the loader builds this for every sample of every epoch.
    func instanceMap() -> [Int32] {
        var map = [Int32](repeating: -1, count: record.width * record.height)
        map.withUnsafeMutableBufferPointer { map in
            func paint(_ mask: RLE, _ value: Int32) {
                let (width, height) = (mask.width, mask.height)
                mask.forEachForegroundRun { start, length in
                    // A run is column-major: down one column, then on at the top of the next.
                    var (x, y) = start.quotientAndRemainder(dividingBy: height)
                    for _ in 0..<length {
                        map[y * width + x] = value
                        y += 1
                        if y == height { (x, y) = (x + 1, 0) }
                    }
                }
            }
            if let ignore = record.ignore { paint(ignore, -2) }
            for (k, instance) in record.instances.enumerated() { paint(instance.mask, Int32(k)) }
        }
        return map
    }
}

/// Random scale, crop and horizontal flip, applied to pixels and targets alike.
public struct Augmentation: Sendable, Equatable {
    public var minScale = 0.75
    public var maxScale = 1.25
    public var flip = true
    public init() {}
}

/// Network input and training targets of one sample at the head's resolution (stride 4).
public struct PreparedSample: Sendable {
    public var image: [Float]          // [3, H, W], normalised
    public var semantic: [Int32]       // [H/4, W/4]: 0 background, k+1 class k, -1 ignore
    public var center: [Float]         // [H/4, W/4]: Gaussian peaks at instance centres
    public var offset: [Float]         // [2, H/4, W/4]: (dy, dx) from the pixel to its centre, head pixels
    public var offsetWeight: [Float]   // [H/4, W/4]: 1 on pixels of non-crowd instances
}

public enum Targets {
    /// Input normalisation: (v/255 − mean) / std per channel (a checkpoint records both).
    public static let inputMean: Float = 0.5
    public static let inputStd: Float = 0.25
    /// (v/255 − 0.5) / 0.25, written as × 4 (exact: a power of two).
    public static func normalise(_ value: UInt8) -> Float { (Float(value) / 255 - 0.5) * 4 }
    /// Standard deviation of the centre Gaussians, in head pixels (8 input pixels).
    public static let defaultSigma: Float = 2

    /// Maps the sample onto a `width`×`height` input, randomly scaled, cropped and
    /// flipped when `augmentation` is given (else resized to fill the input).
    public static func prepare(_ sample: DecodedSample, classes: [String], width: Int, height: Int,
                               augmentation: Augmentation?, sigma: Float = defaultSigma, random: inout SplitMix64) -> PreparedSample {
        let (sw, sh) = (sample.record.width, sample.record.height)
        var scale = 1.0, flip = false
        if let augmentation {
            scale = augmentation.minScale + random.unit() * (augmentation.maxScale - augmentation.minScale)
            flip = augmentation.flip && random.next() & 1 == 1
        }
        let sx = Double(width) / Double(sw) * scale, sy = Double(height) / Double(sh) * scale
        func cropOffset(_ scaled: Double, _ size: Int) -> Double {
            let slack = scaled - Double(size)
            return augmentation == nil ? 0 : min(0, slack) + random.unit() * abs(slack)
        }
        let cropX = cropOffset(Double(sw) * sx, width), cropY = cropOffset(Double(sh) * sy, height)
        // Source coordinate (in sample pixels) of input coordinate x (pixel centres at +0.5).
        func sourceX(_ x: Double) -> Double { ((flip ? Double(width) - x : x) + cropX) / sx - 0.5 }
        func sourceY(_ y: Double) -> Double { (y + cropY) / sy - 0.5 }

        // Image: bilinear; outside the sample it is 0 (the mean after normalisation).
        let columns = (0..<width).compactMap { x in taps(sourceX(Double(x) + 0.5), size: sw).map { (x: x, taps: $0) } }
        let rows = (0..<height).map { taps(sourceY(Double($0) + 0.5), size: sh) }
        let image = resample(sample.pixels, columns: columns, rows: rows, width: width)

        // Targets at stride 4: each head pixel samples the label under its input-space centre.
        let (hw, hh) = (width / 4, height / 4)
        let map = sample.instanceMap()
        var instanceAt = [Int32](repeating: -2, count: hw * hh)
        for y in 0..<hh {
            let source = Int((sourceY(Double(4 * y) + 2)).rounded())
            guard source >= 0 && source < sh else { continue }
            for x in 0..<hw {
                let column = Int((sourceX(Double(4 * x) + 2)).rounded())
                if column >= 0 && column < sw { instanceAt[y * hw + x] = map[source * sw + column] }
            }
        }
        let instances = sample.record.instances
        let classIndex = instances.map { classes.firstIndex(of: $0.className) }
        var semantic = [Int32](repeating: -1, count: hw * hh)
        var sums = [(y: Double, x: Double, n: Int)](repeating: (0, 0, 0), count: instances.count)
        for i in 0..<hw * hh {
            let k = Int(instanceAt[i])
            if k == -1 { semantic[i] = 0; continue }
            // Ignore, or a class the model does not know: no class target here and no centre or offset
            // below (sums[k] stays empty), so such an instance is an ignore region (reported by the loader).
            guard k >= 0, let c = classIndex[k] else { continue }
            semantic[i] = Int32(c + 1)
            if !instances[k].isCrowd { sums[k].y += Double(i / hw); sums[k].x += Double(i % hw); sums[k].n += 1 }
        }
        var center = [Float](repeating: 0, count: hw * hh)
        var offset = [Float](repeating: 0, count: 2 * hw * hh)
        var offsetWeight = [Float](repeating: 0, count: hw * hh)
        let radius = Int((3 * sigma).rounded(.up))
        for sum in sums where sum.n > 0 {
            let cy = Float(sum.y / Double(sum.n)), cx = Float(sum.x / Double(sum.n))
            let iy = Int(cy.rounded()), ix = Int(cx.rounded())
            for y in max(0, iy - radius)...min(hh - 1, iy + radius) {
                for x in max(0, ix - radius)...min(hw - 1, ix + radius) {
                    let d2 = (Float(y) - cy) * (Float(y) - cy) + (Float(x) - cx) * (Float(x) - cx)
                    center[y * hw + x] = max(center[y * hw + x], expf(-d2 / (2 * sigma * sigma)))
                }
            }
        }
        for i in 0..<hw * hh {
            let k = Int(instanceAt[i])
            guard k >= 0, sums[k].n > 0 else { continue }
            offset[i] = Float(sums[k].y / Double(sums[k].n)) - Float(i / hw)
            offset[hw * hh + i] = Float(sums[k].x / Double(sums[k].n)) - Float(i % hw)
            offsetWeight[i] = 1
        }
        return PreparedSample(image: image, semantic: semantic, center: center, offset: offset, offsetWeight: offsetWeight)
    }

    /// The normalised [3, H, W] input: pixel (x, y) interpolates the RGB sample between the taps of its column and row
    /// (0 where either lies outside). The loader runs this for every sample of every epoch beside the training thread,
    /// so it computes four neighbouring columns of a channel at once; per lane the IEEE operations are the scalar
    /// formula's, so every value is the same. The columns inside the sample are consecutive.
    static func resample(_ pixels: Raster<UInt8>, columns: [(x: Int, taps: (Int, Int, Float))], rows: [(Int, Int, Float)?],
                         width: Int) -> [Float] {
        let height = rows.count, plane = width * height, rowBytes = 3 * pixels.width
        var image = [Float](repeating: 0, count: 3 * plane)
        guard let firstColumn = columns.first?.x else { return image }
        let left = columns.map { 3 * $0.taps.0 }, right = columns.map { 3 * $0.taps.1 }, weight = columns.map(\.taps.2)
        let count = columns.count
        image.withUnsafeMutableBufferPointer { image in
            pixels.samples.withUnsafeBufferPointer { pixels in
                left.withUnsafeBufferPointer { left in
                    right.withUnsafeBufferPointer { right in
                        weight.withUnsafeBufferPointer { weight in
                            for (y, row) in rows.enumerated() {
                                guard let (y0, y1, wy) = row else { continue }
                                for c in 0..<3 {
                                    let upper = pixels.baseAddress! + y0 * rowBytes + c, lower = pixels.baseAddress! + y1 * rowBytes + c
                                    let out = image.baseAddress! + c * plane + y * width + firstColumn
                                    @inline(__always) func four(_ row: UnsafePointer<UInt8>, _ at: UnsafeBufferPointer<Int>, _ i: Int) -> SIMD4<Float> {
                                        SIMD4(Float(row[at[i]]), Float(row[at[i + 1]]), Float(row[at[i + 2]]), Float(row[at[i + 3]]))
                                    }
                                    var i = 0
                                    while i + 4 <= count {
                                        let wx = SIMD4(weight[i], weight[i + 1], weight[i + 2], weight[i + 3])
                                        let top = four(upper, left, i) * (1 - wx) + four(upper, right, i) * wx
                                        let bottom = four(lower, left, i) * (1 - wx) + four(lower, right, i) * wx
                                        let value = ((top * (1 - wy) + bottom * wy) / 255 - 0.5) * 4
                                        UnsafeMutableRawPointer(out + i).storeBytes(of: value, as: SIMD4<Float>.self)
                                        i += 4
                                    }
                                    while i < count {
                                        let wx = weight[i]
                                        let top = Float(upper[left[i]]) * (1 - wx) + Float(upper[right[i]]) * wx
                                        let bottom = Float(lower[left[i]]) * (1 - wx) + Float(lower[right[i]]) * wx
                                        out[i] = ((top * (1 - wy) + bottom * wy) / 255 - 0.5) * 4
                                        i += 1
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return image
    }

    /// Bilinear taps for a source coordinate, or nil outside the sample (beyond half a pixel).
    static func taps(_ s: Double, size: Int) -> (Int, Int, Float)? {
        guard s >= -0.5 && s < Double(size) - 0.5 else { return nil }
        let clamped = max(0, min(Double(size - 1), s))
        let i0 = Int(clamped), i1 = min(i0 + 1, size - 1)
        return (i0, i1, Float(clamped - Double(i0)))
    }
}
