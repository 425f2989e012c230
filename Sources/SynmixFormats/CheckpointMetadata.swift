import SynmixCore

/// The `__metadata__` of a synmix checkpoint (`.safetensors`): the model's config (`ModelConfig.json`, the
/// network's own description), the writer's version, the input it was trained on and, in a training
/// checkpoint, where training stands. Keys and their JSON are written and read only here; what the values
/// must be for this network (sizes, normalisation, architecture) the trainer checks.
public enum CheckpointMetadata {
    public static let configKey = "synmix.config", versionKey = "synmix.version"
    public static let inputKey = "synmix.input", trainingKey = "synmix.training"

    /// `synmix.input`: the input size and the pixel normalisation, (v/255 − mean)/std.
    public struct Input: Sendable, Equatable {
        public var width: Int, height: Int
        public var mean: Double, std: Double

        public init(width: Int, height: Int, mean: Double, std: Double) {
            (self.width, self.height, self.mean, self.std) = (width, height, mean, std)
        }

        public var json: JSON { .object([("size", .array([.int(width), .int(height)])), ("mean", .double(mean)), ("std", .double(std))]) }

        /// Errors name `path` and quote the metadata.
        public init(json: JSON, path: String) throws {
            func fail(_ reason: String) -> FileError { FileError(path: path, reason: "\(CheckpointMetadata.inputKey) \(json.compact): \(reason)") }
            guard let size = json["size"]?.arrayValue, size.count == 2, let width = size[0].intValue, let height = size[1].intValue else {
                throw fail("size is not [width, height] of integers")
            }
            guard let mean = json["mean"]?.doubleValue, let std = json["std"]?.doubleValue, mean.isFinite, std.isFinite, std > 0 else {
                throw fail("mean and std are not finite numbers with std > 0")
            }
            (self.width, self.height, self.mean, self.std) = (width, height, mean, std)
        }
    }

    /// `synmix.training`: the step, the optimizer's step and the data position (per source, its epoch and
    /// the position within it), all integers >= 0.
    public struct Training: Sendable, Equatable {
        public var step: Int, optimizerStep: Int
        public var epochs: [Int], positions: [Int]

        public init(step: Int, optimizerStep: Int, epochs: [Int], positions: [Int]) {
            (self.step, self.optimizerStep, self.epochs, self.positions) = (step, optimizerStep, epochs, positions)
        }

        public var json: JSON {
            .object([("step", .int(step)), ("optimizer_step", .int(optimizerStep)),
                     ("epochs", .array(epochs.map { .int($0) })), ("positions", .array(positions.map { .int($0) }))])
        }

        /// Errors name `path` and quote the metadata.
        public init(text: String, path: String) throws {
            func fail(_ reason: String) -> FileError { FileError(path: path, reason: "\(CheckpointMetadata.trainingKey) \(text): \(reason)") }
            guard let state = try? JSON.parse(Array(text.utf8)), let step = state["step"]?.intValue,
                  let optimizerStep = state["optimizer_step"]?.intValue, let rawEpochs = state["epochs"]?.arrayValue,
                  let rawPositions = state["positions"]?.arrayValue else {
                throw fail("not {step, optimizer_step, epochs, positions} with integers")
            }
            let epochs = rawEpochs.compactMap(\.intValue), positions = rawPositions.compactMap(\.intValue)
            guard epochs.count == rawEpochs.count, positions.count == rawPositions.count, !epochs.isEmpty, epochs.count == positions.count else {
                throw fail("epochs and positions are not two lists of integers, one per source")
            }
            guard step >= 0, optimizerStep >= 0, epochs.allSatisfy({ $0 >= 0 }), positions.allSatisfy({ $0 >= 0 }) else {
                throw fail("a step, epoch or position is negative")
            }
            (self.step, self.optimizerStep, self.epochs, self.positions) = (step, optimizerStep, epochs, positions)
        }
    }
}
