import Foundation

/// Batch normalisation over [N, C, H, W] in training mode: statistics of the
/// batch, per channel; `mean`/`invStd` [C] are saved for the backward pass and
/// the running statistics updated as PyTorch does (unbiased variance, momentum 0.1).
public func batchNormForward(_ out: UnsafeMutablePointer<Float>, _ input: UnsafePointer<Float>,
                             _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>,
                             mean: UnsafeMutablePointer<Float>, invStd: UnsafeMutablePointer<Float>,
                             runningMean: UnsafeMutablePointer<Float>?, runningVar: UnsafeMutablePointer<Float>?,
                             batch: Int, channels: Int, pixels: Int, epsilon: Float = 1e-5, momentum: Float = 0.1,
                             parts: Int = 1) {
    let count = batch * pixels
    partitioned(channels, parts) { _, range in for c in range {
        var sum: Double = 0
        for n in 0..<batch { let plane = input + (n * channels + c) * pixels; for i in 0..<pixels { sum += Double(plane[i]) } }
        let mu = sum / Double(count)
        var squares: Double = 0
        for n in 0..<batch {
            let plane = input + (n * channels + c) * pixels
            for i in 0..<pixels { let d = Double(plane[i]) - mu; squares += d * d }
        }
        let variance = squares / Double(count)
        let inv = 1 / sqrt(Float(variance) + epsilon)
        mean[c] = Float(mu)
        invStd[c] = inv
        for n in 0..<batch {
            let source = input + (n * channels + c) * pixels, target = out + (n * channels + c) * pixels
            for i in 0..<pixels { target[i] = gamma[c] * (source[i] - Float(mu)) * inv + beta[c] }
        }
        if let runningMean, let runningVar {
            runningMean[c] = (1 - momentum) * runningMean[c] + momentum * Float(mu)
            runningVar[c] = (1 - momentum) * runningVar[c] + momentum * Float(squares / Double(max(1, count - 1)))
        }
    } }
}

/// Gradients of batchNormForward: dGamma/dBeta accumulate, dInput is overwritten.
public func batchNormBackward(_ dInput: UnsafeMutablePointer<Float>, _ dGamma: UnsafeMutablePointer<Float>,
                              _ dBeta: UnsafeMutablePointer<Float>, _ dOut: UnsafePointer<Float>,
                              _ input: UnsafePointer<Float>, _ gamma: UnsafePointer<Float>,
                              mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>,
                              batch: Int, channels: Int, pixels: Int, parts: Int = 1) {
    let count = Float(batch * pixels)
    partitioned(channels, parts) { _, range in for c in range {
        var sumGradient: Float = 0, sumGradientXhat: Float = 0
        for n in 0..<batch {
            let g = dOut + (n * channels + c) * pixels, x = input + (n * channels + c) * pixels
            for i in 0..<pixels {
                sumGradient += g[i]
                sumGradientXhat += g[i] * (x[i] - mean[c]) * invStd[c]
            }
        }
        dBeta[c] += sumGradient
        dGamma[c] += sumGradientXhat
        let scale = gamma[c] * invStd[c] / count
        for n in 0..<batch {
            let g = dOut + (n * channels + c) * pixels, x = input + (n * channels + c) * pixels
            let target = dInput + (n * channels + c) * pixels
            for i in 0..<pixels {
                let xhat = (x[i] - mean[c]) * invStd[c]
                target[i] = scale * (count * g[i] - sumGradient - xhat * sumGradientXhat)
            }
        }
    } }
}
