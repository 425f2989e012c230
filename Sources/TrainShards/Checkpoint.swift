import Foundation
import Network
import ShardData
import SynmixCore

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
    }

    /// What the network was trained on: the input size (predict and evaluate use it unless told
    /// otherwise) and the normalisation of the pixel values.
    public struct Input: Sendable, Equatable {
        public var width: Int
        public var height: Int
        public var mean = Targets.inputMean
        public var std = Targets.inputStd

        public init(width: Int, height: Int) {
            self.width = width
            self.height = height
        }

        var json: JSON {
            .object([("size", .array([.int(width), .int(height)])), ("mean", .double(Double(mean))), ("std", .double(Double(std)))])
        }

        init(json: JSON, path: String) throws {
            guard let size = json["size"]?.arrayValue?.compactMap(\.intValue), size.count == 2, size[0] > 0, size[1] > 0,
                  let mean = json["mean"]?.doubleValue, let std = json["std"]?.doubleValue else {
                throw FileError(path: path, reason: "synmix.input metadata is not {size: [w, h], mean, std}: \(json.compact)")
            }
            (width, height, self.mean, self.std) = (size[0], size[1], Float(mean), Float(std))
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
        var metadata = ["synmix.config": model.config.json.compact, "synmix.version": synmixVersion]
        if let input { metadata["synmix.input"] = input.json.compact }
        if let training {
            for slot in model.parameterSlots {
                tensors["optimizer.exp_avg.\(slot.name)"] = Safetensors.Tensor(Array(training.m[slot.offset..<slot.offset + slot.count]), shape: slot.shape)
                tensors["optimizer.exp_avg_sq.\(slot.name)"] = Safetensors.Tensor(Array(training.v[slot.offset..<slot.offset + slot.count]), shape: slot.shape)
            }
            metadata["synmix.training"] = JSON.object([
                ("step", .int(training.step)), ("optimizer_step", .int(training.optimizerStep)),
                ("epochs", .array(training.cursor.epochs.map { .int($0) })),
                ("positions", .array(training.cursor.positions.map { .int($0) })),
            ]).compact
        }
        try Files.writeAtomically(Safetensors.serialize(tensors, metadata: metadata), to: path)
    }

    /// The model a checkpoint holds, built from its stored config (one read of the file),
    /// and the input it was trained on (nil for a checkpoint written without it).
    public static func model(at path: String) throws -> (model: Model, input: Input?) {
        let file = try read(path)
        let model = Model(config: try config(of: file.metadata, path: path))
        try load(file, path: path, into: model)
        guard let text = file.metadata["synmix.input"] else { return (model, nil) }
        let json: JSON
        do { json = try JSON.parse(Array(text.utf8)) } catch { throw FileError(path: path, reason: "synmix.input metadata: \(error)") }
        return (model, try Input(json: json, path: path))
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
        for slot in model.parameterSlots {
            let v = try values(slot.name, slot.shape)
            for i in 0..<slot.count { model.parameters[slot.offset + i] = v[i] }
        }
        for slot in model.bufferSlots {
            let v = try values(slot.name, slot.shape)
            for i in 0..<slot.count { model.buffers[slot.offset + i] = v[i] }
        }
        if let tracked = tensors["stem.0.bn.num_batches_tracked"], tracked.dtype == .i64, tracked.data.count == 8 {
            model.batchesTracked = tracked.data.withUnsafeBytes { $0.loadUnaligned(as: Int64.self) }
        }
        guard let text = metadata["synmix.training"] else { return nil }
        guard let state = try? JSON.parse(Array(text.utf8)), let step = state["step"]?.intValue,
              let optimizerStep = state["optimizer_step"]?.intValue,
              let epochs = state["epochs"]?.arrayValue?.compactMap(\.intValue),
              let positions = state["positions"]?.arrayValue?.compactMap(\.intValue), epochs.count == positions.count else {
            throw FileError(path: path, reason: "bad synmix.training metadata: \(text)")
        }
        var m = [Float](repeating: 0, count: model.parameterTotal), v = m
        for slot in model.parameterSlots {
            let a = try values("optimizer.exp_avg.\(slot.name)", slot.shape), b = try values("optimizer.exp_avg_sq.\(slot.name)", slot.shape)
            for i in 0..<slot.count { m[slot.offset + i] = a[i]; v[slot.offset + i] = b[i] }
        }
        var cursor = LoaderCursor(sources: epochs.count)
        cursor.epochs = epochs
        cursor.positions = positions
        return TrainingState(step: step, optimizerStep: optimizerStep, m: m, v: v, cursor: cursor)
    }

    static func read(_ path: String) throws -> (tensors: [String: Safetensors.Tensor], metadata: [String: String]) {
        do { return try Safetensors.parse(try Files.read(path)) } catch let error as FileError { throw error } catch {
            throw FileError(path: path, reason: "\(error)")
        }
    }

    static func config(of metadata: [String: String], path: String) throws -> ModelConfig {
        guard let text = metadata["synmix.config"], let json = try? JSON.parse(Array(text.utf8)) else {
            throw FileError(path: path, reason: "no synmix.config metadata: not a synmix checkpoint")
        }
        do { return try ModelConfig(json: json) } catch let error as FileError { throw FileError(path: path, reason: error.reason) }
    }
}
