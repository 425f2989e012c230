import Foundation
import Network
import ShardData
import SynmixCore

/// One predicted instance at the requested output size.
public struct PredictedInstance: Sendable {
    public var classIndex: Int   // into ModelConfig.classes
    public var score: Double
    public var mask: RLE
}

/// Turns head outputs into instances (Panoptic-DeepLab's grouping): centre
/// peaks by max-pooling and a threshold; every pixel whose semantic argmax is
/// an instance class joins the nearest predicted centre after adding its
/// offset (preferring centres of its own class); an instance's class is the
/// majority vote of its pixels, its score the centre's heat × the mean
/// probability of that class over its pixels.
public struct PostProcessor: Sendable {
    public var threshold: Float = 0.1
    public var poolSize = 3
    public var maxInstances = 100
    public init() {}

    /// `heads` is one image's [classes+4, hh, hw] output; masks are produced at `width`×`height`
    /// (the image the network saw, resized to fill the input).
    public func instances(heads: UnsafePointer<Float>, classes: Int, headHeight hh: Int, headWidth hw: Int,
                          width: Int, height: Int) -> [PredictedInstance] {
        let pixels = hh * hw
        // Channels: semantic 0...classes (0 = background), centre, dy, dx.
        let centerPlane = heads + (classes + 1) * pixels
        let offsetY = heads + (classes + 2) * pixels, offsetX = heads + (classes + 3) * pixels
        // Peaks: local maxima of a poolSize×poolSize window above the threshold, highest first.
        var peaks: [(y: Float, x: Float, heat: Float)] = []
        let r = poolSize / 2
        for y in 0..<hh {
            for x in 0..<hw {
                let v = centerPlane[y * hw + x]
                guard v > threshold else { continue }
                var isMax = true
                for yy in max(0, y - r)...min(hh - 1, y + r) where isMax {
                    for xx in max(0, x - r)...min(hw - 1, x + r) where centerPlane[yy * hw + xx] > v { isMax = false; break }
                }
                if isMax { peaks.append((Float(y), Float(x), v)) }
            }
        }
        peaks.sort { $0.heat > $1.heat }
        if peaks.count > maxInstances { peaks.removeLast(peaks.count - maxInstances) }
        guard !peaks.isEmpty else { return [] }
        // Each peak's class: the semantic argmax over instance classes under it. A pixel joins
        // the nearest peak of its own class when there is one (a rider's centre often lies on
        // its bicycle's), else the nearest peak.
        let peakClass = peaks.map { peak -> Int in
            let at = Int(peak.y) * hw + Int(peak.x)
            return (1...classes).max { heads[$0 * pixels + at] < heads[$1 * pixels + at] }!
        }

        // Per output pixel: bilinear head values (align_corners=False), argmax, nearest centre.
        let ys = bilinearTaps(input: hh, output: height), xs = bilinearTaps(input: hw, output: width)
        let scaleY = Float(hh) / Float(height), scaleX = Float(hw) / Float(width)
        var assignment = [UInt32](repeating: 0, count: width * height)   // 0 = none, k+1 = peak k
        var votes = [Int](repeating: 0, count: peaks.count * classes)
        var probabilitySums = [Double](repeating: 0, count: peaks.count * classes)
        var logits = [Float](repeating: 0, count: classes + 1)
        for y in 0..<height {
            let (y0, y1, wy) = ys[y]
            let headY = (Float(y) + 0.5) * scaleY - 0.5
            for x in 0..<width {
                let (x0, x1, wx) = xs[x]
                func sample(_ plane: UnsafePointer<Float>) -> Float {
                    let top = plane[y0 * hw + x0] * (1 - wx) + plane[y0 * hw + x1] * wx
                    let bottom = plane[y1 * hw + x0] * (1 - wx) + plane[y1 * hw + x1] * wx
                    return top * (1 - wy) + bottom * wy
                }
                var best = 0, maximum = -Float.infinity
                for k in 0...classes {
                    logits[k] = sample(heads + k * pixels)
                    if logits[k] > maximum { maximum = logits[k]; best = k }
                }
                guard best > 0 else { continue }
                let cy = headY + sample(offsetY), cx = (Float(x) + 0.5) * scaleX - 0.5 + sample(offsetX)
                var nearest = 0, distance = Float.infinity, sameClass = false
                for (k, peak) in peaks.enumerated() {
                    let d = (peak.y - cy) * (peak.y - cy) + (peak.x - cx) * (peak.x - cx)
                    let same = peakClass[k] == best
                    if (same && !sameClass) || (same == sameClass && d < distance) { distance = d; nearest = k; sameClass = same }
                }
                assignment[y * width + x] = UInt32(nearest + 1)
                var sum: Float = 0
                for k in 0...classes { logits[k] = expf(logits[k] - maximum); sum += logits[k] }   // now softmax numerators
                votes[nearest * classes + best - 1] += 1
                for c in 0..<classes { probabilitySums[nearest * classes + c] += Double(logits[c + 1] / sum) }
            }
        }
        var result: [PredictedInstance] = []
        let masks = assignment.withUnsafeBufferPointer { RegionEncoder.encode($0, height: height, width: width) }
        for (label, mask) in masks where label > 0 {
            let k = Int(label) - 1
            let counts = votes[k * classes..<(k + 1) * classes]
            guard let best = counts.indices.max(by: { counts[$0] < counts[$1] }) else { continue }
            let c = best - k * classes
            let area = Double(counts.reduce(0, +))
            let score = Double(peaks[k].heat) * probabilitySums[k * classes + c] / area
            result.append(PredictedInstance(classIndex: c, score: score, mask: mask))
        }
        return result
    }
}
