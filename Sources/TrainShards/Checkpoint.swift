import Foundation
import Network
import ShardData
import SynmixCore
import SynmixFormats

/// Checkpoints as `.safetensors` (docs/formats.md): the model's tensors under
/// the names PyTorch gives the same network, the config as metadata, and, for
/// a training checkpoint, the AdamW moments (`optimizer.exp_avg.NAME`,
/// `optimizer.exp_avg_sq.NAME`), the step and the data position.
public enum Checkpoint {
    public struct TrainingState: Sendable {
        public var step: Int
        public var optimizerStep: Int
        public var m: [Float], v: [Float]
        public var cursor: LoaderCursor
        /// The input the run trained at (nil in a checkpoint written without it).
        public var input: Input?
    }

    /// What the network was trained on: the input size (predict and evaluate use it unless told
    /// otherwise) and the normalisation of the pixel values — the `synmix.input` record itself.
    public typealias Input = CheckpointMetadata.Input

    /// The input size predict and evaluate run `checkpoint` at: the one it was trained at, unless `requested`
    /// says otherwise, which must be `confirmed` (`--other-input-size`); fit's default, with a `warn`ing, for a
    /// checkpoint that does not record its own.
    public static func runSize(of checkpoint: String, stored: Input?, requested: (width: Int, height: Int)?, confirmed: Bool,
                               warn: (String) -> Void) throws -> (width: Int, height: Int) {
        switch (stored, requested) {
        case (let stored?, let requested?) where (stored.width, stored.height) != requested && !confirmed:
            throw FitError("\(checkpoint) was trained at \(stored.width)x\(stored.height); running it at \(requested.width)x\(requested.height) "
                           + "needs --other-input-size (or leave out --input-size)")
        case (_, let requested?):
            return requested
        case (let stored?, nil):
            return (stored.width, stored.height)
        case (nil, nil):
            let size = (FitOptions.defaults.inputWidth, FitOptions.defaults.inputHeight)
            warn("warning: \(checkpoint) does not record its input size; running at fit's default \(size.0)x\(size.1) (give --input-size)")
            return size
        }
    }

    public static func save(_ model: Model, to path: String, input: Input?, training: TrainingState? = nil) throws {
        var tensors: [String: Safetensors.Tensor] = [:]
        for slot in model.parameterSlots {
            tensors[slot.name] = Safetensors.Tensor(Array(model.parameters[slot.offset..<slot.offset + slot.count]), shape: slot.shape)
        }
        for slot in model.bufferSlots {
            tensors[slot.name] = Safetensors.Tensor(Array(model.buffers[slot.offset..<slot.offset + slot.count]), shape: slot.shape)
        }
        for name in model.blockNames { tensors["\(name).bn.num_batches_tracked"] = Safetensors.Tensor([model.batchesTracked], shape: []) }
        var metadata = [CheckpointMetadata.configKey: model.config.json.compact, CheckpointMetadata.versionKey: synmixVersion]
        if let input { metadata[CheckpointMetadata.inputKey] = input.json.compact }
        if let training {
            for slot in model.parameterSlots {
                tensors["optimizer.exp_avg.\(slot.name)"] = Safetensors.Tensor(Array(training.m[slot.offset..<slot.offset + slot.count]), shape: slot.shape)
                tensors["optimizer.exp_avg_sq.\(slot.name)"] = Safetensors.Tensor(Array(training.v[slot.offset..<slot.offset + slot.count]), shape: slot.shape)
            }
            metadata[CheckpointMetadata.trainingKey] = CheckpointMetadata.Training(
                step: training.step, optimizerStep: training.optimizerStep, epochs: training.cursor.epochs,
                positions: training.cursor.positions).json.compact
        }
        try Files.writeAtomically(Safetensors.serialize(tensors, metadata: metadata), to: path)
    }

    /// The model a checkpoint holds, built from its stored config (one read of the file),
    /// and the input it was trained on (nil for a checkpoint written without it).
    public static func model(at path: String) throws -> (model: Model, input: Input?) {
        let file = try read(path)
        // The input metadata is checked before the model is built: both are the file's word on sizes.
        let input = try self.input(of: file.metadata, path: path)
        let model = Model(config: try config(of: file.metadata, path: path))
        try load(file, path: path, into: model)
        return (model, input)
    }

    /// Loads weights and running statistics into `model`; refuses a checkpoint of another architecture.
    @discardableResult
    public static func load(_ path: String, into model: Model) throws -> TrainingState? {
        try load(try read(path), path: path, into: model)
    }

    @discardableResult
    static func load(_ file: (tensors: [String: Safetensors.Tensor], metadata: [String: String]), path: String,
                     into model: Model) throws -> TrainingState? {
        let (tensors, metadata) = file
        let stored = try config(of: metadata, path: path)
        guard stored == model.config else {
            throw FileError(path: path, reason: "checkpoint of another architecture: it holds \(stored), this model is \(model.config)")
        }
        func values(_ name: String, _ shape: [Int]) throws -> [Float] {
            guard let tensor = tensors[name] else { throw FileError(path: path, reason: "tensor \(name) is missing") }
            guard tensor.dtype == .f32, tensor.shape == shape else {
                throw FileError(path: path, reason: "tensor \(name) is \(tensor.dtype.rawValue) \(tensor.shape), expected F32 \(shape)")
            }
            return tensor.floats
        }
        // Every tensor is one the model (and, in a training checkpoint, its optimizer) has: an extra one
        // means another network, whose weights would otherwise be dropped without a word.
        let training = metadata[CheckpointMetadata.trainingKey]
        var expected = Set(model.parameterSlots.map(\.name) + model.bufferSlots.map(\.name)
                           + model.blockNames.map { "\($0).bn.num_batches_tracked" })
        if training != nil {
            expected.formUnion(model.parameterSlots.flatMap { ["optimizer.exp_avg.\($0.name)", "optimizer.exp_avg_sq.\($0.name)"] })
        }
        if let extra = tensors.keys.filter({ !expected.contains($0) }).sorted().first {
            throw FileError(path: path, reason: "tensor \(extra) is not one of this model's (\(tensors.count - expected.count) more than expected)")
        }
        for slot in model.parameterSlots {
            let v = try values(slot.name, slot.shape)
            for i in 0..<slot.count { model.parameters[slot.offset + i] = v[i] }
        }
        for slot in model.bufferSlots {
            let v = try values(slot.name, slot.shape)
            for i in 0..<slot.count { model.buffers[slot.offset + i] = v[i] }
        }
        for name in model.blockNames.map({ "\($0).bn.num_batches_tracked" }) {
            guard let tracked = tensors[name] else { throw FileError(path: path, reason: "tensor \(name) is missing") }
            guard tracked.dtype == .i64, tracked.shape == [] else {
                throw FileError(path: path, reason: "tensor \(name) is \(tracked.dtype.rawValue) \(tracked.shape), expected I64 []")
            }
            let count = tracked.data.withUnsafeBytes { $0.loadUnaligned(as: Int64.self) }
            guard count >= 0 else { throw FileError(path: path, reason: "tensor \(name) counts \(count) batches") }
            if name == "stem.0.bn.num_batches_tracked" { model.batchesTracked = count }
        }
        guard let text = training else { return nil }
        let state = try CheckpointMetadata.Training(text: text, path: path)
        var m = [Float](repeating: 0, count: model.parameterTotal), v = m
        for slot in model.parameterSlots {
            let a = try values("optimizer.exp_avg.\(slot.name)", slot.shape), b = try values("optimizer.exp_avg_sq.\(slot.name)", slot.shape)
            for i in 0..<slot.count { m[slot.offset + i] = a[i]; v[slot.offset + i] = b[i] }
        }
        var cursor = LoaderCursor(sources: state.epochs.count)
        cursor.epochs = state.epochs
        cursor.positions = state.positions
        return TrainingState(step: state.step, optimizerStep: state.optimizerStep, m: m, v: v, cursor: cursor, input: try input(of: metadata, path: path))
    }

    static func input(of metadata: [String: String], path: String) throws -> Input? {
        guard let text = metadata[CheckpointMetadata.inputKey] else { return nil }
        let json: JSON
        do { json = try JSON.parse(Array(text.utf8)) } catch { throw FileError(path: path, reason: "\(CheckpointMetadata.inputKey) metadata: \(error)") }
        return try Input(validated: json, path: path)
    }

    /// The architecture a checkpoint was saved with (width and classes), without building the model.
    public static func config(at path: String) throws -> ModelConfig {
        try config(of: try read(path).metadata, path: path)
    }

    static func read(_ path: String) throws -> (tensors: [String: Safetensors.Tensor], metadata: [String: String]) {
        do { return try Safetensors.parse(try Files.read(path)) } catch let error as FileError { throw error } catch {
            throw FileError(path: path, reason: "\(error)")
        }
    }

    static func config(of metadata: [String: String], path: String) throws -> ModelConfig {
        let key = CheckpointMetadata.configKey
        guard let text = metadata[key] else { throw FileError(path: path, reason: "no \(key) metadata: not a synmix checkpoint") }
        guard let json = try? JSON.parse(Array(text.utf8)) else { throw FileError(path: path, reason: "\(key) metadata is not JSON: \(text)") }
        do { return try ModelConfig(json: json) } catch let error as FileError { throw FileError(path: path, reason: error.reason) }
    }
}

extension CheckpointMetadata.Input {
    /// An input of this network's normalisation (Targets.inputMean/inputStd).
    public init(width: Int, height: Int) {
        self.init(width: width, height: height, mean: Double(Targets.inputMean), std: Double(Targets.inputStd))
    }

    /// The largest input a checkpoint (or --input-size) may name, checked before anything is
    /// allocated: the workspace holds every layer's activations for the whole input, so the pixel
    /// count sets its size. 8 M pixels is four full 2048×1024 Cityscapes frames, more than any run
    /// here needs; 100 000 × 100 000 from a hostile file would ask for terabytes.
    public static let maxPixels = 4 * 2048 * 1024
    /// Both sides are multiples of this.
    public static let sideMultiple = ModelConfig.outputStride

    /// Why `width`×`height` cannot be the network's input, or nil.
    public static func problem(width: Int, height: Int) -> String? {
        guard width > 0, height > 0 else { return "\(width)x\(height) is not a positive size" }
        guard width % sideMultiple == 0, height % sideMultiple == 0 else {
            return "\(width)x\(height) is not a multiple of \(sideMultiple) on both sides"
        }
        guard width <= maxPixels, height <= maxPixels, width * height <= maxPixels else {
            return "\(width)x\(height) is more than the \(maxPixels) pixels an input may have"
        }
        return nil
    }

    /// Parses `synmix.input` for this network. The size is bounded before use; the normalisation is refused
    /// unless it is the one this network's input pipeline applies: predicting on pixels scaled otherwise than
    /// in training gives wrong results without a word.
    init(validated json: JSON, path: String) throws {
        func fail(_ reason: String) -> FileError { FileError(path: path, reason: "\(CheckpointMetadata.inputKey) \(json.compact): \(reason)") }
        self = try CheckpointMetadata.Input(json: json, path: path)
        if let problem = Self.problem(width: width, height: height) { throw fail(problem) }
        guard Float(mean) == Targets.inputMean, Float(std) == Targets.inputStd else {
            throw fail("the checkpoint normalises pixels with mean \(mean), std \(std); this network's input pipeline uses mean "
                       + "\(Targets.inputMean), std \(Targets.inputStd)")
        }
    }
}
