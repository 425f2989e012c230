import Foundation

// Losses at the heads' resolution. Each returns the loss and writes dLogits /
// dPrediction (overwritten), already divided by the number of counted pixels.

/// Softmax cross-entropy over classes for logits [N, K, H, W] and labels
/// [N, H, W] (a label < 0 is ignored: no loss, no gradient). Mean over counted pixels.
public func crossEntropyLoss(_ dLogits: UnsafeMutablePointer<Float>, _ logits: UnsafePointer<Float>,
                             _ labels: UnsafePointer<Int32>, batch: Int, classes: Int, pixels: Int) -> Float {
    var total: Double = 0
    var counted = 0
    for n in 0..<batch { for i in 0..<pixels where labels[n * pixels + i] >= 0 { counted += 1 } }
    let scale = counted > 0 ? 1 / Float(counted) : 0
    for n in 0..<batch {
        let base = n * classes * pixels
        for i in 0..<pixels {
            let label = Int(labels[n * pixels + i])
            guard label >= 0 else {
                for k in 0..<classes { dLogits[base + k * pixels + i] = 0 }
                continue
            }
            var maximum = -Float.infinity
            for k in 0..<classes { maximum = max(maximum, logits[base + k * pixels + i]) }
            var sum: Float = 0
            for k in 0..<classes { sum += expf(logits[base + k * pixels + i] - maximum) }
            total += Double(logf(sum) + maximum - logits[base + label * pixels + i])
            for k in 0..<classes {
                let p = expf(logits[base + k * pixels + i] - maximum) / sum
                dLogits[base + k * pixels + i] = (p - (k == label ? 1 : 0)) * scale
            }
        }
    }
    return counted > 0 ? Float(total / Double(counted)) : 0
}

/// Mean squared error over all elements (the centre heatmap against its Gaussian targets).
public func mseLoss(_ dPrediction: UnsafeMutablePointer<Float>, _ prediction: UnsafePointer<Float>,
                    _ target: UnsafePointer<Float>, count: Int) -> Float {
    var total: Double = 0
    for i in 0..<count {
        let difference = prediction[i] - target[i]
        total += Double(difference * difference)
        dPrediction[i] = 2 * difference / Float(count)
    }
    return Float(total / Double(count))
}

/// L1 over the pixels where `weight` is nonzero (centre offsets on instance pixels),
/// for predictions [N, 2, H, W]; mean over weighted pixels × channels.
public func maskedL1Loss(_ dPrediction: UnsafeMutablePointer<Float>, _ prediction: UnsafePointer<Float>,
                         _ target: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                         batch: Int, channels: Int, pixels: Int) -> Float {
    var weighted: Double = 0
    for n in 0..<batch { for i in 0..<pixels { weighted += Double(weight[n * pixels + i]) } }
    let denominator = max(1, weighted * Double(channels))
    var total: Double = 0
    for n in 0..<batch {
        for c in 0..<channels {
            for i in 0..<pixels {
                let index = (n * channels + c) * pixels + i, w = weight[n * pixels + i]
                let difference = prediction[index] - target[index]
                total += Double(w * abs(difference))
                dPrediction[index] = w == 0 || difference == 0 ? 0 : w * (difference > 0 ? 1 : -1) / Float(denominator)
            }
        }
    }
    return Float(total / denominator)
}
