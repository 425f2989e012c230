import Foundation

/// Activations and activation gradients of one model for one input shape,
/// allocated once: nothing is allocated inside `forward`/`backward`.
public final class Workspace: @unchecked Sendable {
    public let model: Model
    public let batch: Int, height: Int, width: Int
    /// Threads the layers split their work over (OpenBLAS should run one thread then).
    public let threads: Int
    /// Head resolution (stride 4).
    public var headHeight: Int { height / 4 }
    public var headWidth: Int { width / 4 }

    /// One ConvBN's activations: z = conv(input), out = relu?(bn(z)), dOut = ∂loss/∂out.
    struct ConvState {
        var shape: ConvShape
        var z, out, dOut, mean, invStd: UnsafeMutablePointer<Float>
    }

    private var states: [ConvState] = []
    /// Input [N, 3, H, W], normalised.
    public let input: UnsafeMutablePointer<Float>
    /// Residual block outputs relu(x + conv2(conv1(x))) per stage, and their gradients.
    private var blockOut: [UnsafeMutablePointer<Float>] = [], dBlockOut: [UnsafeMutablePointer<Float>] = []
    /// Decoder: upsampled reduce output + skip output [N, c, H/4, W/4], and its gradient.
    private let fuseIn, dFuseIn: UnsafeMutablePointer<Float>
    /// Head output [N, classes+4, H/4, W/4] and its gradient.
    public let heads, dHeads: UnsafeMutablePointer<Float>
    private let headShape: ConvShape
    /// Scratch: im2col columns (per thread), per-thread weight gradients, a batch-norm
    /// input gradient, an input gradient to add.
    private let columns, weightScratch, dz, temporary: UnsafeMutablePointer<Float>
    private var allocations: [UnsafeMutablePointer<Float>] = []

    public init(model: Model, batch: Int, height: Int, width: Int, threads: Int = 1) {
        precondition(height % 16 == 0 && width % 16 == 0 && height > 0 && width > 0, "input size must be a multiple of 16")
        self.model = model
        self.batch = batch
        self.height = height
        self.width = width
        self.threads = max(1, min(threads, batch))
        var allocations: [UnsafeMutablePointer<Float>] = []
        func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, count))
            p.initialize(repeating: 0, count: max(1, count))
            allocations.append(p)
            return p
        }
        var inputSizes: [Int: (Int, Int)] = [:]   // conv index -> input (h, w)
        let c = model.config.width
        inputSizes[model.stem] = (height, width)
        for stage in 0..<3 {
            let scale = 2 << stage   // input of stage `stage` is at stride 2, 4, 8
            inputSizes[model.downs[stage]] = (height / scale, width / scale)
            inputSizes[model.blocks[stage].0] = (height / (scale * 2), width / (scale * 2))
            inputSizes[model.blocks[stage].1] = (height / (scale * 2), width / (scale * 2))
        }
        inputSizes[model.reduce] = (height / 16, width / 16)
        inputSizes[model.skip] = (height / 4, width / 4)
        inputSizes[model.fuse] = (height / 4, width / 4)
        var scratch = 0, largest = 0, weightScratchTotal = 0
        for (i, spec) in model.convs.enumerated() {
            let (h, w) = inputSizes[i]!
            let shape = ConvShape(batch: batch, inChannels: spec.inChannels, height: h, width: w, outChannels: spec.outChannels,
                                  kernel: spec.kernel, stride: spec.stride, padding: spec.kernel / 2)
            let count = batch * shape.outChannels * shape.outHeight * shape.outWidth
            states.append(ConvState(shape: shape, z: allocate(count), out: allocate(count), dOut: allocate(count),
                                    mean: allocate(shape.outChannels), invStd: allocate(shape.outChannels)))
            scratch = max(scratch, shape.scratchCount)
            weightScratchTotal = max(weightScratchTotal, weightScratchCount(shape, parts: self.threads))
            largest = max(largest, count, batch * shape.inChannels * h * w)
        }
        input = allocate(batch * 3 * height * width)
        for stage in 0..<3 {
            let count = batch * states[model.blocks[stage].1].shape.outChannels * (height >> (stage + 2)) * (width >> (stage + 2))
            blockOut.append(allocate(count))
            dBlockOut.append(allocate(count))
        }
        fuseIn = allocate(batch * c * (height / 4) * (width / 4))
        dFuseIn = allocate(batch * c * (height / 4) * (width / 4))
        headShape = ConvShape(batch: batch, inChannels: c, height: height / 4, width: width / 4,
                              outChannels: model.config.headChannels, kernel: 1)
        heads = allocate(batch * model.config.headChannels * (height / 4) * (width / 4))
        dHeads = allocate(batch * model.config.headChannels * (height / 4) * (width / 4))
        weightScratchTotal = max(weightScratchTotal, weightScratchCount(headShape, parts: self.threads))
        columns = allocate(scratch * self.threads)
        weightScratch = allocate(weightScratchTotal)
        dz = allocate(largest)
        temporary = allocate(largest)
        self.allocations = allocations
    }

    deinit { for p in allocations { p.deallocate() } }

    /// Every convolution of the network at this shape (heads last) and whether
    /// the backward pass computes its input gradient (all but the stem's).
    public var convolutions: [(shape: ConvShape, inputGradient: Bool)] {
        states.enumerated().map { ($1.shape, $0 != model.stem) } + [(headShape, true)]
    }

    /// Multiply-adds ×2 of one training step's GEMMs: forward, weight gradient, input gradient.
    public var trainingFLOPs: Double {
        convolutions.reduce(0) { total, conv in
            let s = conv.shape
            let gemm = 2 * Double(s.batch * s.outChannels * s.columnRows * s.outHeight * s.outWidth)
            return total + gemm * (conv.inputGradient ? 3 : 2)
        }
    }

    // MARK: forward

    /// Runs the network on `input`; `training` uses batch statistics and updates the running ones.
    public func forward(training: Bool) {
        let p = model.parameters.baseAddress!
        convForward(model.stem, input, training: training)
        var x = UnsafePointer(states[model.stem].out)
        for stage in 0..<3 {
            let down = model.downs[stage], (first, second) = model.blocks[stage]
            convForward(down, x, training: training)
            convForward(first, states[down].out, training: training)
            convForward(second, states[first].out, training: training)
            let sum = states[second].out, skip = states[down].out, out = blockOut[stage]
            elementwise(activationCount(second)) { for i in $0 { out[i] = max(0, sum[i] + skip[i]) } }
            x = UnsafePointer(out)
        }
        convForward(model.reduce, blockOut[2], training: training)
        convForward(model.skip, blockOut[0], training: training)
        let r = states[model.reduce].shape
        upsampleForward(fuseIn, states[model.reduce].out, planes: batch * r.outChannels, height: r.outHeight, width: r.outWidth,
                        outHeight: headHeight, outWidth: headWidth)
        let skipOut = states[model.skip].out
        elementwise(activationCount(model.skip)) { for i in $0 { fuseIn[i] += skipOut[i] } }
        convForward(model.fuse, fuseIn, training: training)
        conv2dForward(heads, states[model.fuse].out, p + model.headWeight, p + model.headBias, headShape, scratch: columns, parts: threads)
        if training { model.batchesTracked += 1 }
    }

    private func activationCount(_ conv: Int) -> Int {
        let s = states[conv].shape
        return batch * s.outChannels * s.outHeight * s.outWidth
    }

    private func convForward(_ index: Int, _ x: UnsafePointer<Float>, training: Bool) {
        let spec = model.convs[index], state = states[index], s = state.shape
        let p = model.parameters.baseAddress!, b = model.buffers.baseAddress!
        conv2dForward(state.z, x, p + spec.weight, nil, s, scratch: columns, parts: threads)
        let pixels = s.outHeight * s.outWidth
        if training {
            batchNormForward(state.out, state.z, p + spec.gamma, p + spec.beta, mean: state.mean, invStd: state.invStd,
                             runningMean: b + spec.runningMean, runningVar: b + spec.runningVar,
                             batch: batch, channels: s.outChannels, pixels: pixels, relu: spec.relu, parts: threads)
            return
        }
        partitioned(s.outChannels, threads) { _, channels in
            for c in channels {
                let scale = p[spec.gamma + c] / (b[spec.runningVar + c] + 1e-5).squareRoot()
                let shift = p[spec.beta + c] - b[spec.runningMean + c] * scale
                for n in 0..<batch {
                    let plane = (n * s.outChannels + c) * pixels
                    for i in plane..<plane + pixels { state.out[i] = spec.relu ? max(0, state.z[i] * scale + shift) : state.z[i] * scale + shift }
                }
            }
        }
    }

    /// `body` over slices of 0..<count on the workspace's threads (elementwise loops).
    private func elementwise(_ count: Int, _ body: (Range<Int>) -> Void) {
        partitioned(count, count >= 1 << 15 ? threads : 1) { _, range in body(range) }
    }

    // MARK: backward

    /// Back-propagates `dHeads` (set by the losses); gradients accumulate into the model's gradient arena.
    public func backward() {
        let p = model.parameters.baseAddress!, g = model.gradients.baseAddress!
        let fuse = states[model.fuse]
        conv2dBackward(fuse.dOut, g + model.headWeight, g + model.headBias, dHeads, fuse.out, p + model.headWeight,
                       headShape, scratch: columns, weightScratch: weightScratch, parts: threads)
        convBackward(model.fuse, input: fuseIn, into: dFuseIn)
        // The sum's gradient flows unchanged into both of its terms.
        states[model.skip].dOut.update(from: dFuseIn, count: activationCount(model.skip))
        let r = states[model.reduce].shape
        upsampleBackward(states[model.reduce].dOut, dFuseIn, planes: batch * r.outChannels, height: r.outHeight, width: r.outWidth,
                         outHeight: headHeight, outWidth: headWidth)
        convBackward(model.reduce, input: blockOut[2], into: dBlockOut[2])
        convBackward(model.skip, input: blockOut[0], into: dBlockOut[0])
        for stage in (0..<3).reversed() {
            let down = model.downs[stage], (first, second) = model.blocks[stage]
            let count = activationCount(second)
            let out = blockOut[stage], dSum = dBlockOut[stage]
            let dSecond = states[second].dOut
            elementwise(count) { for i in $0 { dSum[i] = out[i] > 0 ? dSum[i] : 0; dSecond[i] = dSum[i] } }
            convBackward(second, input: states[first].out, into: states[first].dOut)
            convBackward(first, input: states[down].out, into: temporary)
            let dDown = states[down].dOut
            let temporary = temporary
            elementwise(count) { for i in $0 { dDown[i] = dSum[i] + temporary[i] } }
            switch stage {
            case 2: convBackward(down, input: blockOut[1], into: dBlockOut[1])
            case 1:
                convBackward(down, input: blockOut[0], into: temporary)
                let d = dBlockOut[0], temporary = temporary
                elementwise(activationCount(model.blocks[0].1)) { for i in $0 { d[i] += temporary[i] } }
            default: convBackward(down, input: states[model.stem].out, into: states[model.stem].dOut)
            }
        }
        convBackward(model.stem, input: input, into: nil)
    }

    /// Batch norm (with the ReLU's mask applied to dOut in place), then the convolution; dInput is overwritten.
    private func convBackward(_ index: Int, input: UnsafePointer<Float>, into dInput: UnsafeMutablePointer<Float>?) {
        let spec = model.convs[index], state = states[index], s = state.shape
        let p = model.parameters.baseAddress!, g = model.gradients.baseAddress!
        let pixels = s.outHeight * s.outWidth
        batchNormBackward(dz, g + spec.gamma, g + spec.beta, state.dOut, state.z, p + spec.gamma,
                          mean: state.mean, invStd: state.invStd, batch: batch, channels: s.outChannels, pixels: pixels,
                          reluOutput: spec.relu ? state.out : nil, parts: threads)
        conv2dBackward(dInput, g + spec.weight, nil, dz, input, p + spec.weight, s, scratch: columns,
                       weightScratch: weightScratch, parts: threads)
    }
}
