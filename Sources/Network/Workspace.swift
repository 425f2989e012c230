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
    /// The outputs of the other steps (residual sums, the decoder's sum) and their gradients.
    private var values: [Activation: UnsafeMutablePointer<Float>] = [:], gradients: [Activation: UnsafeMutablePointer<Float>] = [:]
    /// Each activation's [C, H, W] (times `batch` for the buffer).
    private var dimensions: [Activation: (channels: Int, height: Int, width: Int)] = [:]
    /// Which activations' gradients the running backward pass has written (by `slots`), kept so
    /// that backward allocates nothing.
    private var slots: [Activation: Int] = [:]
    private var written: [Bool] = []
    /// Head output [N, classes+4, H/4, W/4] and its gradient.
    public let heads, dHeads: UnsafeMutablePointer<Float>
    private let headShape: ConvShape
    /// Scratch: im2col columns (per thread), per-thread weight gradients, a batch-norm
    /// input gradient, a gradient to add into one that another step already wrote.
    private let columns, weightScratch, dz, temporary: UnsafeMutablePointer<Float>
    /// Evaluation mode's batch-norm scales and shifts of one convolution ([C] each).
    private let affineScratch: UnsafeMutablePointer<Float>
    private var allocations: [UnsafeMutablePointer<Float>] = []

    public init(model: Model, batch: Int, height: Int, width: Int, threads: Int = 1) {
        precondition(height % ModelConfig.outputStride == 0 && width % ModelConfig.outputStride == 0 && height > 0 && width > 0,
                     "input size must be a multiple of the output stride \(ModelConfig.outputStride)")
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
        // Shapes follow from the steps: a convolution's input is the activation it reads.
        var dimensions: [Activation: (channels: Int, height: Int, width: Int)] = [.input: (3, height, width)]
        var shapes: [Int: ConvShape] = [:]
        var headShape: ConvShape?
        for step in model.steps {
            switch step {
            case .conv(let index, let input):
                let spec = model.convs[index], d = dimensions[input]!
                let shape = ConvShape(batch: batch, inChannels: spec.inChannels, height: d.height, width: d.width,
                                      outChannels: spec.outChannels, kernel: spec.kernel, stride: spec.stride, padding: spec.kernel / 2)
                shapes[index] = shape
                dimensions[.conv(index)] = (shape.outChannels, shape.outHeight, shape.outWidth)
            case .residual(let stage, let sum, _):
                dimensions[.residual(stage)] = dimensions[.conv(sum)]!
            case .upsampleAdd(_, let added):
                dimensions[.fused] = dimensions[.conv(added)]!
            case .heads(let index):
                let d = dimensions[.conv(index)]!
                headShape = ConvShape(batch: batch, inChannels: d.channels, height: d.height, width: d.width,
                                      outChannels: model.config.headChannels, kernel: 1)
                dimensions[.heads] = (model.config.headChannels, d.height, d.width)
            }
        }
        var scratch = 0, largest = 0, weightScratchTotal = 0
        for (i, spec) in model.convs.enumerated() {
            let shape = shapes[i]!
            let count = batch * shape.outChannels * shape.outHeight * shape.outWidth
            states.append(ConvState(shape: shape, z: allocate(count), out: allocate(count), dOut: allocate(count),
                                    mean: allocate(spec.outChannels), invStd: allocate(spec.outChannels)))
            scratch = max(scratch, shape.scratchCount)
            weightScratchTotal = max(weightScratchTotal, weightScratchCount(shape, parts: self.threads))
            largest = max(largest, count, batch * shape.inChannels * shape.height * shape.width)
        }
        input = allocate(batch * 3 * height * width)
        // Buffers for the steps that are not convolutions (a convolution's live in its state).
        for (activation, d) in dimensions {
            switch activation {
            case .residual, .fused:
                values[activation] = allocate(batch * d.channels * d.height * d.width)
                gradients[activation] = allocate(batch * d.channels * d.height * d.width)
            case .input, .conv, .heads:
                continue
            }
        }
        let headCount = batch * model.config.headChannels * (height / 4) * (width / 4)
        heads = allocate(headCount)
        dHeads = allocate(headCount)
        self.headShape = headShape!
        weightScratchTotal = max(weightScratchTotal, weightScratchCount(headShape!, parts: self.threads))
        columns = allocate(scratch * self.threads)
        weightScratch = allocate(weightScratchTotal)
        dz = allocate(largest)
        temporary = allocate(largest)
        affineScratch = allocate(2 * (model.convs.map(\.outChannels).max() ?? 0))
        self.dimensions = dimensions
        slots = Dictionary(uniqueKeysWithValues: dimensions.keys.enumerated().map { ($1, $0) })
        written = [Bool](repeating: false, count: slots.count)
        self.allocations = allocations
    }

    deinit { for p in allocations { p.deallocate() } }

    /// Every convolution of the network at this shape (heads last) and whether
    /// the backward pass computes its input gradient (all but those reading the input).
    public var convolutions: [(shape: ConvShape, inputGradient: Bool)] {
        model.steps.compactMap { step in
            switch step {
            case .conv(let index, let input): (states[index].shape, input != .input)
            case .heads: (headShape, true)
            default: nil
            }
        }
    }

    /// Multiply-adds ×2 of one training step's GEMMs: forward, weight gradient, input gradient.
    public var trainingFLOPs: Double {
        convolutions.reduce(0) { total, conv in
            let s = conv.shape
            let gemm = 2 * Double(s.batch * s.outChannels * s.columnRows * s.outHeight * s.outWidth)
            return total + gemm * (conv.inputGradient ? 3 : 2)
        }
    }

    /// An activation's values and its gradient buffer.
    private func value(_ activation: Activation) -> UnsafeMutablePointer<Float> {
        switch activation {
        case .input: input
        case .conv(let index): states[index].out
        case .heads: heads
        case .residual, .fused: values[activation]!
        }
    }

    private func gradient(_ activation: Activation) -> UnsafeMutablePointer<Float> {
        switch activation {
        case .conv(let index): states[index].dOut
        case .heads: dHeads
        case .input, .residual, .fused: gradients[activation]!
        }
    }

    private func count(_ activation: Activation) -> Int {
        let d = dimensions[activation]!
        return batch * d.channels * d.height * d.width
    }

    // MARK: forward

    /// Runs the network on `input`; `training` uses batch statistics and updates the running ones.
    public func forward(training: Bool) {
        let p = model.parameters.baseAddress!
        for step in model.steps {
            switch step {
            case .conv(let index, let input):
                convForward(index, value(input), training: training)
            case .residual(let stage, let sum, let skip):
                let a = states[sum].out, b = states[skip].out, out = value(.residual(stage))
                elementwise(count(.residual(stage))) { for i in $0 { out[i] = max(0, a[i] + b[i]) } }
            case .upsampleAdd(let upsampled, let added):
                let r = states[upsampled].shape, out = value(.fused), d = dimensions[.fused]!
                upsampleForward(out, states[upsampled].out, planes: batch * r.outChannels, height: r.outHeight, width: r.outWidth,
                                outHeight: d.height, outWidth: d.width, parts: threads)
                let addend = states[added].out
                elementwise(count(.fused)) { for i in $0 { out[i] += addend[i] } }
            case .heads(let index):
                conv2dForward(heads, states[index].out, p + model.headWeight, p + model.headBias, headShape, scratch: columns, parts: threads)
            }
        }
        if training { model.batchesTracked += 1 }
    }

    private func convForward(_ index: Int, _ x: UnsafePointer<Float>, training: Bool) {
        let spec = model.convs[index], state = states[index], s = state.shape
        let p = model.parameters.baseAddress!, b = model.buffers.baseAddress!
        guard training else {
            // Batch norm with the running statistics is a per-channel affine map, applied to each band of
            // the convolution's output as it is computed (no pass over z; z is only kept for training).
            let scale = affineScratch, shift = affineScratch + s.outChannels
            for c in 0..<s.outChannels {
                scale[c] = p[spec.gamma + c] / (b[spec.runningVar + c] + 1e-5).squareRoot()
                shift[c] = p[spec.beta + c] - b[spec.runningMean + c] * scale[c]
            }
            conv2dForward(state.out, x, p + spec.weight, nil, s, scratch: columns, parts: threads,
                          affine: ChannelAffine(scale: scale, shift: shift, relu: spec.relu))
            return
        }
        conv2dForward(state.z, x, p + spec.weight, nil, s, scratch: columns, parts: threads)
        batchNormForward(state.out, state.z, p + spec.gamma, p + spec.beta, mean: state.mean, invStd: state.invStd,
                         runningMean: b + spec.runningMean, runningVar: b + spec.runningVar,
                         batch: batch, channels: s.outChannels, pixels: s.outHeight * s.outWidth, relu: spec.relu, parts: threads)
    }

    /// `body` over slices of 0..<count on the workspace's threads (elementwise loops).
    private func elementwise(_ count: Int, _ body: (Range<Int>) -> Void) {
        partitioned(count, count >= 1 << 15 ? threads : 1) { _, range in body(range) }
    }

    // MARK: backward

    /// Back-propagates `dHeads` (set by the losses); gradients accumulate into the model's gradient arena.
    /// The steps in reverse: each writes its inputs' gradients, the first contribution in place, a later
    /// one (an activation read by two steps) through `temporary` and added.
    public func backward() {
        let p = model.parameters.baseAddress!, g = model.gradients.baseAddress!
        for i in written.indices { written[i] = false }
        written[slots[.heads]!] = true   // by the losses
        func deliver(to activation: Activation, _ produce: (UnsafeMutablePointer<Float>) -> Void) {
            let slot = slots[activation]!
            guard !written[slot] else {
                produce(temporary)
                let target = gradient(activation), temporary = temporary
                elementwise(count(activation)) { for i in $0 { target[i] += temporary[i] } }
                return
            }
            written[slot] = true
            produce(gradient(activation))
        }
        for step in model.steps.reversed() {
            switch step {
            case .heads(let index):
                deliver(to: .conv(index)) { dInput in
                    conv2dBackward(dInput, g + model.headWeight, g + model.headBias, dHeads, states[index].out, p + model.headWeight,
                                   headShape, scratch: columns, weightScratch: weightScratch, parts: threads)
                }
            case .conv(let index, let input):
                if input == .input {
                    convBackward(index, input: value(input), into: nil)
                } else {
                    deliver(to: input) { convBackward(index, input: value(input), into: $0) }
                }
            case .upsampleAdd(let upsampled, let added):
                // The sum's gradient flows unchanged into the added term, bilinearly back into the upsampled one.
                let dSum = gradient(.fused), r = states[upsampled].shape, d = dimensions[.fused]!
                deliver(to: .conv(added)) { $0.update(from: dSum, count: count(.fused)) }
                deliver(to: .conv(upsampled)) { dInput in
                    upsampleBackward(dInput, dSum, planes: batch * r.outChannels, height: r.outHeight, width: r.outWidth,
                                     outHeight: d.height, outWidth: d.width, parts: threads)
                }
            case .residual(let stage, let sum, let skip):
                // Through the ReLU (masked in place), then unchanged into both terms.
                let out = value(.residual(stage)), dOut = gradient(.residual(stage)), n = count(.residual(stage))
                elementwise(n) { reluBackward(dOut, output: out, $0) }
                deliver(to: .conv(sum)) { $0.update(from: dOut, count: n) }
                deliver(to: .conv(skip)) { $0.update(from: dOut, count: n) }
            }
        }
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
