import XCTest
@testable import Network
import SynmixCore

/// Finite-difference gradient checks for every layer and loss. The network runs
/// in Float; the reference differentiates a scalar accumulated in Double
/// (central differences, ε = 1e-3), and analytic and numeric gradients must
/// agree to 1 % of the largest gradient (plus 1e-4 absolute).
final class GradientCheckTests: XCTestCase {
    var random = SplitMix64(seed: 2024)

    func values(_ count: Int, scale: Float = 1, awayFromZero: Bool = false) -> [Float] {
        (0..<count).map { _ in
            var v = Float(random.unit() * 2 - 1) * scale
            if awayFromZero && abs(v) < 0.1 * scale { v += v < 0 ? -0.1 * scale : 0.1 * scale }
            return v
        }
    }

    /// Compares `analytic` with central differences of `loss` with respect to `x`.
    func check(_ name: String, _ x: inout [Float], analytic: [Float], loss: ([Float]) -> Double,
               file: StaticString = #filePath, line: UInt = #line) {
        let epsilon: Float = 1e-3
        let largest = analytic.map { abs($0) }.max() ?? 0
        var worst: Float = 0
        for i in x.indices {
            let saved = x[i]
            x[i] = saved + epsilon
            let plus = loss(x)
            x[i] = saved - epsilon
            let minus = loss(x)
            x[i] = saved
            let numeric = Float((plus - minus) / Double(2 * epsilon))
            worst = max(worst, abs(numeric - analytic[i]))
        }
        XCTAssertLessThanOrEqual(worst, 0.01 * largest + 1e-4, "\(name): worst difference \(worst), largest gradient \(largest)", file: file, line: line)
        XCTAssertGreaterThan(largest, 0, "\(name): the gradient is all zeros", file: file, line: line)
    }

    /// L = Σ r·out in Double: a random projection makes every output count.
    func projected(_ out: [Float], _ r: [Float]) -> Double { zip(out, r).reduce(0) { $0 + Double($1.0) * Double($1.1) } }

    func convCase(_ s: ConvShape, bias: Bool) {
        var input = values(s.batch * s.inChannels * s.height * s.width)
        var weight = values(s.outChannels * s.columnRows, scale: 0.5)
        var biasValues = values(s.outChannels)
        let outCount = s.batch * s.outChannels * s.outHeight * s.outWidth
        let r = values(outCount)
        var scratch = [Float](repeating: 0, count: max(1, s.scratchCount))
        func forward(_ input: [Float], _ weight: [Float], _ b: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: outCount)
            input.withUnsafeBufferPointer { i in weight.withUnsafeBufferPointer { w in b.withUnsafeBufferPointer { bb in
                out.withUnsafeMutableBufferPointer { o in scratch.withUnsafeMutableBufferPointer { sc in
                    conv2dForward(o.baseAddress!, i.baseAddress!, w.baseAddress!, bias ? bb.baseAddress! : nil, s, scratch: sc.baseAddress!)
                } }
            } } }
            return out
        }
        var dInput = [Float](repeating: 0, count: input.count), dWeight = [Float](repeating: 0, count: weight.count)
        var dBias = [Float](repeating: 0, count: s.outChannels)
        r.withUnsafeBufferPointer { g in input.withUnsafeBufferPointer { i in weight.withUnsafeBufferPointer { w in
            dInput.withUnsafeMutableBufferPointer { di in dWeight.withUnsafeMutableBufferPointer { dw in dBias.withUnsafeMutableBufferPointer { db in
                scratch.withUnsafeMutableBufferPointer { sc in
                    conv2dBackward(di.baseAddress!, dw.baseAddress!, bias ? db.baseAddress! : nil, g.baseAddress!, i.baseAddress!, w.baseAddress!, s,
                                   scratch: sc.baseAddress!)
                }
            } } }
        } } }
        let label = "conv k\(s.kernel) s\(s.stride) p\(s.padding)"
        check("\(label) input", &input, analytic: dInput) { self.projected(forward($0, weight, biasValues), r) }
        check("\(label) weight", &weight, analytic: dWeight) { self.projected(forward(input, $0, biasValues), r) }
        if bias { check("\(label) bias", &biasValues, analytic: dBias) { self.projected(forward(input, weight, $0), r) } }
    }

    func testConvolutionGradients() {
        convCase(ConvShape(batch: 2, inChannels: 3, height: 7, width: 6, outChannels: 4, kernel: 3, stride: 1, padding: 1), bias: true)
        convCase(ConvShape(batch: 2, inChannels: 2, height: 8, width: 7, outChannels: 3, kernel: 3, stride: 2, padding: 1), bias: false)
        convCase(ConvShape(batch: 2, inChannels: 5, height: 4, width: 5, outChannels: 3, kernel: 1), bias: true)   // direct 1×1 path
    }

    func testBilinearUpsamplingGradient() {
        for (h, w, oh, ow) in [(3, 4, 12, 16), (5, 3, 7, 9)] {
            var input = values(2 * h * w)
            let r = values(2 * oh * ow)
            func forward(_ x: [Float]) -> [Float] {
                var out = [Float](repeating: 0, count: 2 * oh * ow)
                x.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer {
                    upsampleForward($0.baseAddress!, i.baseAddress!, planes: 2, height: h, width: w, outHeight: oh, outWidth: ow)
                } }
                return out
            }
            var dInput = [Float](repeating: 0, count: input.count)
            r.withUnsafeBufferPointer { g in dInput.withUnsafeMutableBufferPointer {
                upsampleBackward($0.baseAddress!, g.baseAddress!, planes: 2, height: h, width: w, outHeight: oh, outWidth: ow)
            } }
            check("upsample \(h)x\(w)->\(oh)x\(ow)", &input, analytic: dInput) { self.projected(forward($0), r) }
        }
    }

    func testUpsamplingMatchesPyTorchAlignCornersFalse() {
        // torch.nn.functional.interpolate([[0, 1], [2, 3]], size=(4, 4), mode="bilinear", align_corners=False)
        let input: [Float] = [0, 1, 2, 3]
        var out = [Float](repeating: 0, count: 16)
        input.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer {
            upsampleForward($0.baseAddress!, i.baseAddress!, planes: 1, height: 2, width: 2, outHeight: 4, outWidth: 4)
        } }
        XCTAssertEqual(out, [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3])
    }

    func testLossGradients() {
        let (batch, classes, pixels) = (2, 4, 9)
        var logits = values(batch * classes * pixels, scale: 2)
        let labels: [Int32] = (0..<(batch * pixels)).map { $0 % 5 == 4 ? -1 : Int32($0 % classes) }   // some ignored
        func ce(_ x: [Float], _ d: inout [Float]) -> Float {
            x.withUnsafeBufferPointer { l in labels.withUnsafeBufferPointer { t in d.withUnsafeMutableBufferPointer {
                crossEntropyLoss($0.baseAddress!, l.baseAddress!, t.baseAddress!, batch: batch, classes: classes, pixels: pixels, parts: 2)
            } } }
        }
        var dLogits = [Float](repeating: 0, count: logits.count)
        _ = ce(logits, &dLogits)
        check("cross-entropy", &logits, analytic: dLogits) { var scratch = [Float](repeating: 0, count: $0.count); return Double(ce($0, &scratch)) }
        for (n, i) in [(0, 4), (1, 0)] {   // ignored pixels (flat label index 4 and 9): no gradient
            for k in 0..<classes { XCTAssertEqual(dLogits[(n * classes + k) * pixels + i], 0) }
        }

        var prediction = values(30), target = values(30)
        func mse(_ x: [Float], _ d: inout [Float]) -> Float {
            x.withUnsafeBufferPointer { p in target.withUnsafeBufferPointer { t in d.withUnsafeMutableBufferPointer {
                mseLoss($0.baseAddress!, p.baseAddress!, t.baseAddress!, count: 30)
            } } }
        }
        var dPrediction = [Float](repeating: 0, count: 30)
        _ = mse(prediction, &dPrediction)
        check("mse", &prediction, analytic: dPrediction) { var s = [Float](repeating: 0, count: 30); return Double(mse($0, &s)) }

        var offsets = values(2 * 2 * 6, scale: 3)
        target = offsets.map { $0 + (abs($0) < 0.5 ? 1 : 0.3) }   // keep |difference| away from the kink
        let weight: [Float] = (0..<12).map { $0 % 3 == 0 ? 0 : 1 }
        func l1(_ x: [Float], _ d: inout [Float]) -> Float {
            x.withUnsafeBufferPointer { p in target.withUnsafeBufferPointer { t in weight.withUnsafeBufferPointer { w in d.withUnsafeMutableBufferPointer {
                maskedL1Loss($0.baseAddress!, p.baseAddress!, t.baseAddress!, w.baseAddress!, batch: 2, channels: 2, pixels: 6)
            } } } }
        }
        var dOffsets = [Float](repeating: 0, count: offsets.count)
        _ = l1(offsets, &dOffsets)
        check("masked L1", &offsets, analytic: dOffsets) { var s = [Float](repeating: 0, count: 24); return Double(l1($0, &s)) }
    }
}

extension GradientCheckTests {
    func testBatchNormGradients() { batchNormCase(relu: false) }

    /// The network's ReLU is fused into batch norm (forward: max(0, ·) in the same pass;
    /// backward: dOut masked by the forward output): checked as it runs.
    func testBatchNormWithItsFusedReLUGradients() { batchNormCase(relu: true) }

    func batchNormCase(relu: Bool) {
        let (batch, channels, pixels) = (3, 2, 21)   // 21 pixels: two vectors of 8 and a tail
        let count = batch * channels * pixels
        var input = values(count, scale: 2), gamma = values(channels).map { $0 + 1.5 }, beta = values(channels)
        let r = values(count)
        func forward(_ x: [Float], _ g: [Float], _ b: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: count), mean = [Float](repeating: 0, count: channels), inv = mean
            x.withUnsafeBufferPointer { x in g.withUnsafeBufferPointer { g in b.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { o in mean.withUnsafeMutableBufferPointer { m in inv.withUnsafeMutableBufferPointer { s in
                    batchNormForward(o.baseAddress!, x.baseAddress!, g.baseAddress!, b.baseAddress!, mean: m.baseAddress!, invStd: s.baseAddress!,
                                     runningMean: nil, runningVar: nil, batch: batch, channels: channels, pixels: pixels, relu: relu)
                } } }
            } } }
            return out
        }
        var out = [Float](repeating: 0, count: count), mean = [Float](repeating: 0, count: channels), inv = mean
        var runningMean = [Float](repeating: 0, count: channels), runningVar = [Float](repeating: 1, count: channels)
        input.withUnsafeBufferPointer { x in gamma.withUnsafeBufferPointer { g in beta.withUnsafeBufferPointer { b in
            out.withUnsafeMutableBufferPointer { o in mean.withUnsafeMutableBufferPointer { m in inv.withUnsafeMutableBufferPointer { s in
                runningMean.withUnsafeMutableBufferPointer { rm in runningVar.withUnsafeMutableBufferPointer { rv in
                    batchNormForward(o.baseAddress!, x.baseAddress!, g.baseAddress!, b.baseAddress!, mean: m.baseAddress!, invStd: s.baseAddress!,
                                     runningMean: rm.baseAddress!, runningVar: rv.baseAddress!, batch: batch, channels: channels, pixels: pixels,
                                     relu: relu)
                } }
            } } }
        } } }
        var dInput = [Float](repeating: 0, count: count), dGamma = [Float](repeating: 0, count: channels), dBeta = dGamma
        var dOut = r
        dOut.withUnsafeMutableBufferPointer { d in input.withUnsafeBufferPointer { x in gamma.withUnsafeBufferPointer { g in
            mean.withUnsafeBufferPointer { m in inv.withUnsafeBufferPointer { s in out.withUnsafeBufferPointer { o in
                dInput.withUnsafeMutableBufferPointer { di in dGamma.withUnsafeMutableBufferPointer { dg in dBeta.withUnsafeMutableBufferPointer { db in
                    batchNormBackward(di.baseAddress!, dg.baseAddress!, db.baseAddress!, d.baseAddress!, x.baseAddress!, g.baseAddress!,
                                      mean: m.baseAddress!, invStd: s.baseAddress!, batch: batch, channels: channels, pixels: pixels,
                                      reluOutput: relu ? o.baseAddress! : nil)
                } } }
            } } }
        } } }
        if relu {
            // The mask must matter: some outputs are clipped, some pass.
            XCTAssertTrue(out.contains { $0 == 0 } && out.contains { $0 > 0 })
        }
        let name = relu ? "batchnorm+relu" : "batchnorm"
        check("\(name) input", &input, analytic: dInput) { self.projected(forward($0, gamma, beta), r) }
        check("\(name) gamma", &gamma, analytic: dGamma) { self.projected(forward(input, $0, beta), r) }
        check("\(name) beta", &beta, analytic: dBeta) { self.projected(forward(input, gamma, $0), r) }
        // Running statistics move 10 % towards the batch's (unbiased variance).
        XCTAssertEqual(runningMean[0], 0.1 * mean[0], accuracy: 1e-6)
        XCTAssertGreaterThan(runningVar[0], 0.9)
    }

    func testAdamWUpdatesEveryParameterAlikeOnVectorLanesAndThreads() {
        // 21 parameters over 2 threads (vector lanes and scalar tails) against 21 one-parameter
        // optimizers, over 3 steps: the same bits.
        var together = AdamW(parameterCount: 21, learningRate: 0.05, totalSteps: 100)
        var alone = (0..<21).map { _ in AdamW(parameterCount: 1, learningRate: 0.05, totalSteps: 100) }
        var p = values(21), q = p
        for _ in 0..<3 {
            let g = values(21)
            p.withUnsafeMutableBufferPointer { p in g.withUnsafeBufferPointer { together.update(p, $0, parts: 2) } }
            for i in 0..<21 {
                var one = [q[i]]
                one.withUnsafeMutableBufferPointer { p in [g[i]].withUnsafeBufferPointer { alone[i].update(p, $0) } }
                q[i] = one[0]
            }
        }
        XCTAssertEqual(p, q)
        XCTAssertEqual(together.m, alone.map { $0.m[0] })
        XCTAssertEqual(together.v, alone.map { $0.v[0] })
    }

    func testAdamWFollowsPyTorchsUpdate() {
        // One step from p = 1 with g = 0.5, lr 0.1, decay 0.01: p·(1 − 0.001) − 0.1·(m̂ / (√v̂ + ε)) with m̂ = 0.5, √v̂ = 0.5.
        var optimizer = AdamW(parameterCount: 1, learningRate: 0.1, totalSteps: 1_000_000)
        optimizer.weightDecay = 0.01
        var p: [Float] = [1]
        let g: [Float] = [0.5]
        p.withUnsafeMutableBufferPointer { p in g.withUnsafeBufferPointer { optimizer.update(p, $0) } }
        let decayed: Float = 1 - 0.1 * 0.01
        let adamStep: Float = 0.1 * (0.5 / (0.5 + 1e-8))
        XCTAssertEqual(p[0], decayed - adamStep, accuracy: 1e-6)
        // Warm-up then cosine: lr rises linearly to its peak, then reaches 0 at the last step.
        var schedule = AdamW(parameterCount: 1, learningRate: 1, totalSteps: 110)
        schedule.warmupSteps = 10
        XCTAssertEqual(schedule.rate(at: 5), 0.5)
        XCTAssertEqual(schedule.rate(at: 10), 1)
        XCTAssertEqual(schedule.rate(at: 60), 0.5, accuracy: 1e-6)
        XCTAssertEqual(schedule.rate(at: 110), 0, accuracy: 1e-6)
        // It minimises a quadratic: f(p) = Σ (p − 3)².
        var quadratic = AdamW(parameterCount: 4, learningRate: 0.1, totalSteps: 500)
        quadratic.weightDecay = 0
        var q: [Float] = [0, -2, 5, 10]
        for _ in 0..<500 {
            let gradient = q.map { 2 * ($0 - 3) }
            q.withUnsafeMutableBufferPointer { p in gradient.withUnsafeBufferPointer { quadratic.update(p, $0) } }
        }
        for value in q { XCTAssertEqual(value, 3, accuracy: 0.05) }
    }
}
