import Foundation

/// Σ p[i] and Σ p[i]·q[i] over a plane with eight float lanes (vectorised; planes
/// are at most a few thousand pixels, so float lanes lose nothing that matters).
@inline(__always)
func planeSum(_ p: UnsafePointer<Float>, _ count: Int) -> Float {
    var lanes = SIMD8<Float>(), i = 0
    while i + 8 <= count { lanes += load8(p, i); i += 8 }
    var sum = lanes.sum()
    while i < count { sum += p[i]; i += 1 }
    return sum
}

@inline(__always)
func planeSquaredDeviation(_ p: UnsafePointer<Float>, _ count: Int, from mean: Float) -> Float {
    var lanes = SIMD8<Float>(), i = 0
    let m = SIMD8<Float>(repeating: mean)
    while i + 8 <= count { let d = load8(p, i) - m; lanes += d * d; i += 8 }
    var sum = lanes.sum()
    while i < count { sum += (p[i] - mean) * (p[i] - mean); i += 1 }
    return sum
}

/// Batch normalisation over [N, C, H, W] in training mode: statistics of the
/// batch, per channel; `mean`/`invStd` [C] are saved for the backward pass and
/// the running statistics updated as PyTorch does (unbiased variance, momentum 0.1).
/// `relu` applies max(0, ·) to the output in the same pass. Channels are split over `parts` threads.
public func batchNormForward(_ out: UnsafeMutablePointer<Float>, _ input: UnsafePointer<Float>,
                             _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>,
                             mean: UnsafeMutablePointer<Float>, invStd: UnsafeMutablePointer<Float>,
                             runningMean: UnsafeMutablePointer<Float>?, runningVar: UnsafeMutablePointer<Float>?,
                             batch: Int, channels: Int, pixels: Int, epsilon: Float = 1e-5, momentum: Float = 0.1,
                             relu: Bool = false, parts: Int = 1) {
    let count = batch * pixels
    partitioned(channels, parts) { _, range in for c in range {
        var sum: Double = 0
        for n in 0..<batch { sum += Double(planeSum(input + (n * channels + c) * pixels, pixels)) }
        let mu = Float(sum / Double(count))
        var squares: Double = 0
        for n in 0..<batch { squares += Double(planeSquaredDeviation(input + (n * channels + c) * pixels, pixels, from: mu)) }
        let inv = 1 / sqrt(Float(squares / Double(count)) + epsilon)
        mean[c] = mu
        invStd[c] = inv
        let scale = gamma[c] * inv, shift = beta[c] - mu * scale
        for n in 0..<batch {
            let plane = (n * channels + c) * pixels
            affine(out + plane, input + plane, count: pixels, scale: scale, shift: shift, relu: relu)
        }
        if let runningMean, let runningVar {
            runningMean[c] = (1 - momentum) * runningMean[c] + momentum * mu
            runningVar[c] = (1 - momentum) * runningVar[c] + momentum * Float(squares / Double(max(1, count - 1)))
        }
    } }
}

/// Gradients of batchNormForward: dGamma/dBeta accumulate, dInput is overwritten.
/// With `reluOutput` (the forward output of a fused ReLU) the gradient counts only
/// where that output is positive. Two vectorised passes per plane: the sums, then dInput
/// (the mask is applied on the fly, so dOut is only read).
public func batchNormBackward(_ dInput: UnsafeMutablePointer<Float>, _ dGamma: UnsafeMutablePointer<Float>,
                              _ dBeta: UnsafeMutablePointer<Float>, _ dOut: UnsafePointer<Float>,
                              _ input: UnsafePointer<Float>, _ gamma: UnsafePointer<Float>,
                              mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>,
                              batch: Int, channels: Int, pixels: Int, reluOutput: UnsafePointer<Float>? = nil, parts: Int = 1) {
    let count = Float(batch * pixels)
    let vectorEnd = pixels - pixels % 8
    /// dOut through the ReLU's mask.
    @inline(__always) func gradient(_ plane: Int, _ i: Int) -> SIMD8<Float> {
        let g = load8(dOut + plane, i)
        guard let reluOutput else { return g }
        return g.replacing(with: 0, where: load8(reluOutput + plane, i) .<= 0)
    }
    @inline(__always) func gradient(_ plane: Int, _ i: Int) -> Float {
        if let reluOutput, reluOutput[plane + i] <= 0 { return 0 }
        return dOut[plane + i]
    }
    partitioned(channels, parts) { _, range in for c in range {
        var sumGradient: Float = 0, sumGradientX: Float = 0
        for n in 0..<batch {
            let plane = (n * channels + c) * pixels, x = input + plane
            var lanes = SIMD8<Float>(), productLanes = SIMD8<Float>()
            for i in stride(from: 0, to: vectorEnd, by: 8) {
                let g: SIMD8<Float> = gradient(plane, i)
                lanes += g
                productLanes += g * load8(x, i)
            }
            var sum = lanes.sum(), product = productLanes.sum()
            for i in vectorEnd..<pixels {
                let g: Float = gradient(plane, i)
                sum += g
                product += g * x[i]
            }
            sumGradient += sum
            sumGradientX += product
        }
        // Σ g·x̂ = (Σ g·x − mean·Σ g)·invStd
        let sumGradientXhat = (sumGradientX - mean[c] * sumGradient) * invStd[c]
        dBeta[c] += sumGradient
        dGamma[c] += sumGradientXhat
        // dInput = scale·(count·g − Σ g − x̂·Σ g·x̂), x̂ = (x − mean)·invStd
        let scale = gamma[c] * invStd[c] / count
        let mu = SIMD8(repeating: mean[c]), inv = SIMD8(repeating: invStd[c]), counts = SIMD8(repeating: count)
        let sums = SIMD8(repeating: sumGradient), sumsXhat = SIMD8(repeating: sumGradientXhat), scales = SIMD8(repeating: scale)
        for n in 0..<batch {
            let plane = (n * channels + c) * pixels, x = input + plane, target = dInput + plane
            for i in stride(from: 0, to: vectorEnd, by: 8) {
                let g: SIMD8<Float> = gradient(plane, i)
                let xhat = (load8(x, i) - mu) * inv
                store8(scales * (counts * g - sums - xhat * sumsXhat), target, i)
            }
            for i in vectorEnd..<pixels {
                let g: Float = gradient(plane, i)
                let xhat = (x[i] - mean[c]) * invStd[c]
                target[i] = scale * (count * g - sumGradient - xhat * sumGradientXhat)
            }
        }
    } }
}
