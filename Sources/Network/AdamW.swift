import Foundation

/// AdamW over one flat parameter arena (PyTorch's update: decoupled weight decay
/// applied first, bias-corrected moments), with linear warm-up then cosine decay.
/// Moments live in arenas of the same layout; nothing is allocated per step.
public struct AdamW: Sendable {
    public var learningRate: Float
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    public var weightDecay: Float = 1e-4
    public var warmupSteps = 0
    public var totalSteps: Int
    public private(set) var step = 0
    public private(set) var m: [Float]
    public private(set) var v: [Float]

    public init(parameterCount: Int, learningRate: Float, totalSteps: Int) {
        self.learningRate = learningRate
        self.totalSteps = totalSteps
        m = [Float](repeating: 0, count: parameterCount)
        v = [Float](repeating: 0, count: parameterCount)
    }

    /// Continues from a checkpoint's optimizer state.
    public mutating func restore(step: Int, m: [Float], v: [Float]) {
        precondition(m.count == self.m.count && v.count == self.v.count)
        self.step = step
        self.m = m
        self.v = v
    }

    /// The learning rate at 1-based step `t`: linear warm-up, then cosine to zero at `totalSteps`.
    public func rate(at t: Int) -> Float {
        if t <= warmupSteps && warmupSteps > 0 { return learningRate * Float(t) / Float(warmupSteps) }
        let progress = Float(t - warmupSteps) / Float(max(1, totalSteps - warmupSteps))
        return learningRate * 0.5 * (1 + cos(Float.pi * min(1, progress)))
    }

    /// One step; the parameters are split over `parts` threads (each element's update is independent).
    public mutating func update(_ parameters: UnsafeMutableBufferPointer<Float>, _ gradients: UnsafeBufferPointer<Float>, parts: Int = 1) {
        precondition(parameters.count == m.count && gradients.count == m.count)
        step += 1
        let lr = rate(at: step)
        let correction1 = 1 - pow(beta1, Float(step)), correction2 = 1 - pow(beta2, Float(step))
        let (b1, b2, eps, decay) = (beta1, beta2, epsilon, weightDecay)
        let p = parameters.baseAddress!, g = gradients.baseAddress!
        m.withUnsafeMutableBufferPointer { m in
            v.withUnsafeMutableBufferPointer { v in
                let (m, v) = (m.baseAddress!, v.baseAddress!)
                partitioned(parameters.count, parts) { _, range in
                    // Eight lanes at a time, then the rest; the same operations in the same order either way.
                    var i = range.lowerBound
                    while i + 8 <= range.upperBound {
                        let gradient = load8(g, i)
                        let first = b1 * load8(m, i) + (1 - b1) * gradient
                        let second = b2 * load8(v, i) + (1 - b2) * gradient * gradient
                        var parameter = load8(p, i) * (1 - lr * decay)
                        parameter -= lr * (first / correction1) / ((second / correction2).squareRoot() + eps)
                        store8(first, m, i)
                        store8(second, v, i)
                        store8(parameter, p, i)
                        i += 8
                    }
                    for i in i..<range.upperBound {
                        m[i] = b1 * m[i] + (1 - b1) * g[i]
                        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                        p[i] *= 1 - lr * decay
                        p[i] -= lr * (m[i] / correction1) / ((v[i] / correction2).squareRoot() + eps)
                    }
                }
            }
        }
    }
}
