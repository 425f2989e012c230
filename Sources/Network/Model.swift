import Foundation
import SynmixCore

/// The architecture's hyper-parameters, stored in every checkpoint as
/// `synmix.config`; a checkpoint is only loaded into a model with the same config.
public struct ModelConfig: Sendable, Equatable, CustomStringConvertible {
    public static let architecture = "synmix-bottom-up-v1"
    /// Channels at strides 2 and 4; stride 8 has 2×, stride 16 has 4×.
    public var width: Int
    /// Instance classes in taxonomy order; the semantic head predicts these plus background (channel 0).
    public var classes: [String]

    /// The width `fit` trains at unless told otherwise (285 k parameters with the eight Cityscapes classes).
    public static let defaultWidth = 24

    public init(width: Int = defaultWidth, classes: [String]) {
        self.width = width
        self.classes = classes
    }

    /// The backbone's deepest stride: an input's sides must be multiples of it (the decoder's up-sampling
    /// and skip connection need whole stride-16 cells).
    public static let outputStride = 16

    public var semanticChannels: Int { classes.count + 1 }
    /// Channels of the fused head output: semantic logits, centre heatmap, offset (y, x).
    public var headChannels: Int { semanticChannels + 3 }

    public var json: JSON {
        .object([("architecture", .string(Self.architecture)), ("width", .int(width)),
                 ("classes", .array(classes.map { .string($0) }))])
    }

    public var description: String { json.compact }

    /// The widest network a config may ask for. Parameters grow with width² (285 k at the default 24):
    /// 256 is about 32 M parameters (130 MB of weights, 4× that while training), past any network
    /// this CPU trainer runs, and small enough that a hostile checkpoint's config cannot turn the
    /// model's allocation into the machine's memory.
    public static let maxWidth = 256
    /// The most instance classes a config may name (the taxonomy has 8).
    public static let maxClasses = 1000

    public init(json: JSON) throws {
        func fail(_ reason: String) -> FileError { FileError(path: "synmix.config", reason: "synmix.config \(json.compact): \(reason)") }
        guard let architecture = json["architecture"]?.stringValue, architecture == Self.architecture else {
            throw fail("another architecture than \(Self.architecture)")
        }
        guard let width = json["width"]?.intValue, (1...Self.maxWidth).contains(width) else {
            throw fail("width is not an integer in 1...\(Self.maxWidth)")
        }
        guard let list = json["classes"]?.arrayValue, (1...Self.maxClasses).contains(list.count) else {
            throw fail("classes is not a list of 1...\(Self.maxClasses) names")
        }
        let classes = list.compactMap(\.stringValue)
        guard classes.count == list.count, Set(classes).count == classes.count else { throw fail("classes are not distinct strings") }
        self.init(width: width, classes: classes)
    }
}

/// A named tensor's place in a flat arena, with its PyTorch name and shape.
public struct TensorSlot: Sendable {
    public var name: String
    public var shape: [Int]
    public var offset: Int
    public var count: Int { shape.reduce(1, *) }
}

/// A tensor of activations between two steps of the network.
public enum Activation: Hashable, Sendable {
    case input            // [N, 3, H, W], normalised
    case conv(Int)        // the output of conv block i (after batch norm and its ReLU)
    case residual(Int)    // stage s's residual sum, relu(x + conv2(conv1(x)))
    case fused            // the decoder's upsampled reduce output + skip output
    case heads            // semantic logits, centre heatmap, offsets
}

/// One step of the network. The model lists them in forward order; the workspace's forward
/// pass walks the list and its backward pass walks it in reverse, so the wiring is written once.
public enum Step: Sendable {
    case conv(Int, input: Activation)                // conv block i on `input` → .conv(i)
    case residual(Int, sum: Int, skip: Int)          // relu(.conv(sum) + .conv(skip)) → .residual(stage)
    case upsampleAdd(upsampled: Int, added: Int)     // bilinear(.conv(upsampled)) to .conv(added)'s size, + it → .fused
    case heads(input: Int)                           // the three 1×1 heads (one GEMM) on .conv(input) → .heads
}

/// Convolution (no bias) + batch norm (+ ReLU): the network's building block.
/// PyTorch: a module with `conv` (Conv2d, bias=False) and `bn` (BatchNorm2d).
struct ConvBNSpec: Sendable {
    var name: String
    var inChannels, outChannels, kernel, stride: Int
    var relu: Bool
    var weight = 0, gamma = 0, beta = 0         // parameter arena offsets
    var runningMean = 0, runningVar = 0         // buffer arena offsets
}

/// The network's parameters (one arena), their gradients (another arena) and
/// the batch-norm running statistics (a third, not trained).
///
/// Graph (input [N, 3, H, W], H and W multiples of 16, c = width):
///   stem.0     3×3 s2  3→c        → [N, c, H/2, W/2]
///   stage1.0   3×3 s2  c→c,  stage1.1 residual block  → s1 [N, c,  H/4,  W/4]
///   stage2.0   3×3 s2  c→2c, stage2.1 residual block  → s2 [N, 2c, H/8,  W/8]
///   stage3.0   3×3 s2 2c→4c, stage3.1 residual block  → s3 [N, 4c, H/16, W/16]
///   decoder.reduce 1×1 4c→c on s3, bilinear ×4; + decoder.skip 1×1 c→c on s1;
///   decoder.fuse 3×3 c→c → f [N, c, H/4, W/4]
///   heads 1×1 on f: semantic (classes+1), center (1), offset (2: dy, dx in head pixels)
/// A residual block is relu(x + conv2(conv1(x))) with conv2 lacking the ReLU.
public final class Model: @unchecked Sendable {
    public let config: ModelConfig
    public private(set) var parameterSlots: [TensorSlot] = []
    public private(set) var bufferSlots: [TensorSlot] = []
    /// Floats in `parameters` (and in `gradients`).
    public let parameterTotal: Int
    /// Parameters, then gradients with the same layout.
    public let parameters: UnsafeMutableBufferPointer<Float>
    public let gradients: UnsafeMutableBufferPointer<Float>
    public let buffers: UnsafeMutableBufferPointer<Float>
    /// Batch-norm updates so far (PyTorch's `num_batches_tracked`).
    public var batchesTracked: Int64 = 0

    private(set) var convs: [ConvBNSpec] = []
    /// The conv + batch-norm blocks' names (a checkpoint stores each one's `num_batches_tracked`).
    public var blockNames: [String] { convs.map(\.name) }
    /// The network in forward order (indices into `convs`).
    public private(set) var steps: [Step] = []
    /// Head weights [headChannels, c] and biases [headChannels] are contiguous (one GEMM).
    private(set) var headWeight = 0, headBias = 0

    public init(config: ModelConfig, seed: UInt64 = 0) {
        self.config = config
        let c = config.width
        var specs: [ConvBNSpec] = []
        func add(_ name: String, _ i: Int, _ o: Int, _ k: Int, _ s: Int, relu: Bool = true) -> Int {
            specs.append(ConvBNSpec(name: name, inChannels: i, outChannels: o, kernel: k, stride: s, relu: relu))
            return specs.count - 1
        }
        var steps: [Step] = []
        let stem = add("stem.0", 3, c, 3, 2)
        steps.append(.conv(stem, input: .input))
        var x = Activation.conv(stem)
        for (stage, (i, o)) in [(c, c), (c, 2 * c), (2 * c, 4 * c)].enumerated() {
            let down = add("stage\(stage + 1).0", i, o, 3, 2)
            let conv1 = add("stage\(stage + 1).1.conv1", o, o, 3, 1), conv2 = add("stage\(stage + 1).1.conv2", o, o, 3, 1, relu: false)
            steps += [.conv(down, input: x), .conv(conv1, input: .conv(down)), .conv(conv2, input: .conv(conv1)),
                      .residual(stage, sum: conv2, skip: down)]
            x = .residual(stage)
        }
        let reduce = add("decoder.reduce", 4 * c, c, 1, 1)
        let skip = add("decoder.skip", c, c, 1, 1)
        let fuse = add("decoder.fuse", c, c, 3, 1)
        steps += [.conv(reduce, input: .residual(2)), .conv(skip, input: .residual(0)), .upsampleAdd(upsampled: reduce, added: skip),
                  .conv(fuse, input: .fused), .heads(input: fuse)]
        self.steps = steps

        var parameterSlots: [TensorSlot] = [], bufferSlots: [TensorSlot] = []
        var parameterTotal = 0, bufferTotal = 0
        func parameter(_ name: String, _ shape: [Int]) -> Int {
            parameterSlots.append(TensorSlot(name: name, shape: shape, offset: parameterTotal))
            parameterTotal += shape.reduce(1, *)
            return parameterSlots.last!.offset
        }
        func buffer(_ name: String, _ shape: [Int]) -> Int {
            bufferSlots.append(TensorSlot(name: name, shape: shape, offset: bufferTotal))
            bufferTotal += shape.reduce(1, *)
            return bufferSlots.last!.offset
        }
        for i in specs.indices {
            let s = specs[i]
            specs[i].weight = parameter("\(s.name).conv.weight", [s.outChannels, s.inChannels, s.kernel, s.kernel])
            specs[i].gamma = parameter("\(s.name).bn.weight", [s.outChannels])
            specs[i].beta = parameter("\(s.name).bn.bias", [s.outChannels])
            specs[i].runningMean = buffer("\(s.name).bn.running_mean", [s.outChannels])
            specs[i].runningVar = buffer("\(s.name).bn.running_var", [s.outChannels])
        }
        headWeight = parameter("semantic.weight", [config.semanticChannels, c, 1, 1])
        _ = parameter("center.weight", [1, c, 1, 1])
        _ = parameter("offset.weight", [2, c, 1, 1])
        headBias = parameter("semantic.bias", [config.semanticChannels])
        _ = parameter("center.bias", [1])
        _ = parameter("offset.bias", [2])
        convs = specs
        self.parameterSlots = parameterSlots
        self.bufferSlots = bufferSlots
        self.parameterTotal = parameterTotal
        parameters = .allocate(capacity: parameterTotal)
        gradients = .allocate(capacity: parameterTotal)
        buffers = .allocate(capacity: bufferTotal)
        gradients.initialize(repeating: 0)
        initialize(seed: seed)
    }

    deinit {
        parameters.deallocate()
        gradients.deallocate()
        buffers.deallocate()
    }

    /// PyTorch's defaults: convolution weights and biases uniform in ±1/√fan_in
    /// (kaiming_uniform with a = √5), batch norm γ = 1, β = 0, running mean 0, variance 1.
    public func initialize(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        func uniform(_ offset: Int, _ count: Int, bound: Float) {
            for i in offset..<offset + count { parameters[i] = Float(random.unit() * 2 - 1) * bound }
        }
        for s in convs {
            uniform(s.weight, s.outChannels * s.inChannels * s.kernel * s.kernel, bound: 1 / Float(s.inChannels * s.kernel * s.kernel).squareRoot())
            for o in 0..<s.outChannels {
                parameters[s.gamma + o] = 1
                parameters[s.beta + o] = 0
                buffers[s.runningMean + o] = 0
                buffers[s.runningVar + o] = 1
            }
        }
        let bound = 1 / Float(config.width).squareRoot()
        uniform(headWeight, config.headChannels * config.width, bound: bound)
        uniform(headBias, config.headChannels, bound: bound)
        batchesTracked = 0
    }


    public func zeroGradients() { gradients.update(repeating: 0) }
}
