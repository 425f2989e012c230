import Foundation
@testable import Harmonize
import Network
@testable import PackMix
import ShardData
import SynmixCore
import TestSupport
@testable import TrainShards
import XCTest

/// Checkpoints are someone else's files: every hostile one is refused with an error naming the file
/// and the reason, before anything is allocated from what it declares, never a trap or a hang.
final class CheckpointCorruptionTests: XCTestCase {
    static let config = ModelConfig(width: 4, classes: ["person", "car"])

    /// A valid training checkpoint of a tiny model, as bytes.
    func validCheckpoint() throws -> [UInt8] {
        let model = Model(config: Self.config, seed: 1)
        let folder = try temporaryFolder()
        let state = Checkpoint.TrainingState(step: 2, optimizerStep: 2, m: [Float](repeating: 0.5, count: model.parameterTotal),
                                             v: [Float](repeating: 0.25, count: model.parameterTotal),
                                             cursor: LoaderCursor(sources: 1))
        try Checkpoint.save(model, to: "\(folder)/c.safetensors", input: Checkpoint.Input(width: 64, height: 32), training: state)
        return try Files.read("\(folder)/c.safetensors")
    }

    /// The file with its JSON header text changed by `edit` (the data section kept).
    func rewritingHeader(_ file: [UInt8], _ edit: (String) -> String) -> [UInt8] {
        let length = file[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = Array(edit(String(decoding: file[8..<8 + length], as: UTF8.self)).utf8)
        return withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header + file[(8 + length)...]
    }

    /// The file re-serialised with its tensors or metadata changed.
    func rewriting(_ file: [UInt8], metadata change: (inout [String: String]) -> Void = { _ in },
                   tensors edit: (inout [String: Safetensors.Tensor]) -> Void = { _ in }) throws -> [UInt8] {
        var (tensors, metadata) = try Safetensors.parse(file)
        edit(&tensors)
        change(&metadata)
        return Safetensors.serialize(tensors, metadata: metadata)
    }

    func withLength(_ length: UInt64, _ file: [UInt8]) -> [UInt8] {
        withUnsafeBytes(of: length.littleEndian) { Array($0) } + file.dropFirst(8)
    }

    func testEveryHostileCheckpointIsANamedErrorNotATrapOrAnAllocation() throws {
        let valid = try validCheckpoint()
        let firstWeight = "stem.0.conv.weight"
        func input(_ json: String) throws -> [UInt8] { try rewriting(valid) { $0["synmix.input"] = json } }
        func config(_ json: String) throws -> [UInt8] { try rewriting(valid) { $0["synmix.config"] = json } }
        let cases: [(String, [UInt8], String)] = [
            ("empty", [], "header too small"),
            ("header length 2^64-1", withLength(.max, valid), "header length 18446744073709551615 is more than the 100000000"),
            ("header length with its top bit set (negative as Int)", withLength(1 << 63 | 8, valid), "is more than the 100000000"),
            ("header length past the file", withLength(UInt64(valid.count), valid), "runs past the end"),
            ("header length 100 MB + 1", withLength(100_000_001, valid), "is more than the 100000000"),
            ("header length 0", withLength(0, valid), "too small for a JSON object"),
            ("truncated in the data", Array(valid.dropLast(100)), "data_offsets"),
            ("a trailing byte", valid + [0], "file not fully covered"),
            ("dtype F16", rewritingHeader(valid) { $0.replacingOccurrences(of: "\"F32\"", with: "\"F16\"") }, "dtype F16 is not one of F32, I64"),
            ("a shape whose product overflows", rewritingHeader(valid) {
                $0.replacingOccurrences(of: "\"shape\":[]", with: "\"shape\":[4611686018427387904,4]") }, "more elements than an integer counts"),
            ("a shape disagreeing with its bytes", rewritingHeader(valid) {
                $0.replacingOccurrences(of: "\"shape\":[]", with: "\"shape\":[2]") }, "takes 16 bytes, data_offsets give 8"),
            ("data offsets begin > end", rewritingHeader(valid) { $0.replacingOccurrences(of: "\"data_offsets\":[0,", with: "\"data_offsets\":[9,") },
             "lie outside"),
            ("data offsets past the data", rewritingHeader(valid) {
                $0.replacingOccurrences(of: "\"data_offsets\":[0,8]", with: "\"data_offsets\":[0,99999999]") }, "lie outside"),
            ("data offsets negative", rewritingHeader(valid) { $0.replacingOccurrences(of: "\"data_offsets\":[0,", with: "\"data_offsets\":[-8,") },
             "integers >= 0"),
            ("two tensors overlapping", rewritingHeader(valid) {
                $0.replacingOccurrences(of: "\"data_offsets\":[8,16]", with: "\"data_offsets\":[0,8]") }, "overlap or gap"),
            ("a missing tensor", try rewriting(valid, tensors: { $0[firstWeight] = nil }), "tensor \(firstWeight) is missing"),
            ("an extra tensor", try rewriting(valid, tensors: { $0["head.extra.weight"] = Safetensors.Tensor([1] as [Float], shape: [1]) }),
             "tensor head.extra.weight is not one of this model's"),
            ("a known tensor of another shape", try rewriting(valid, tensors: { $0[firstWeight] = Safetensors.Tensor([1, 2] as [Float], shape: [2]) }),
             "tensor \(firstWeight) is F32 [2], expected F32"),
            ("num_batches_tracked as F32", try rewriting(valid, tensors: { $0["stem.0.bn.num_batches_tracked"] = Safetensors.Tensor([1] as [Float], shape: []) }),
             "expected I64 []"),
            ("input 0x0", try input(#"{"size":[0,0],"mean":0.5,"std":0.25}"#), "0x0 is not a positive size"),
            ("input 100000x100000", try input(#"{"size":[100000,100000],"mean":0.5,"std":0.25}"#), "more than the 8388608 pixels"),
            ("input negative", try input(#"{"size":[-64,32],"mean":0.5,"std":0.25}"#), "-64x32 is not a positive size"),
            ("input not a number", try input(#"{"size":["wide",32],"mean":0.5,"std":0.25}"#), "size is not [width, height] of integers"),
            ("input not a multiple of 16", try input(#"{"size":[100,64],"mean":0.5,"std":0.25}"#), "not a multiple of 16"),
            ("input without mean", try input(#"{"size":[64,32],"std":0.25}"#), "mean and std are not finite numbers"),
            ("input std 0", try input(#"{"size":[64,32],"mean":0.5,"std":0}"#), "mean and std are not finite numbers"),
            ("input of another normalisation", try input(#"{"size":[64,32],"mean":0.485,"std":0.229}"#),
             "normalises pixels with mean 0.485, std 0.229; this network's input pipeline uses mean 0.5, std 0.25"),
            ("input not JSON", try input("{"), "synmix.input metadata"),
            ("config width 100000", try config(#"{"architecture":"synmix-bottom-up-v1","width":100000,"classes":["person","car"]}"#),
             "width is not an integer in 1...256"),
            ("config width 0", try config(#"{"architecture":"synmix-bottom-up-v1","width":0,"classes":["person","car"]}"#),
             "width is not an integer in 1...256"),
            ("config of another architecture", try config(#"{"architecture":"resnet50","width":4,"classes":["person","car"]}"#),
             "another architecture than synmix-bottom-up-v1"),
            ("config without classes", try config(#"{"architecture":"synmix-bottom-up-v1","width":4,"classes":[]}"#), "classes is not a list"),
            ("training step negative", try rewriting(valid) { $0["synmix.training"] = #"{"step":-1,"optimizer_step":2,"epochs":[0],"positions":[0]}"# },
             "negative"),
            ("training position negative", try rewriting(valid) {
                $0["synmix.training"] = #"{"step":2,"optimizer_step":2,"epochs":[0],"positions":[-5]}"# }, "negative"),
            ("training position not a number", try rewriting(valid) {
                $0["synmix.training"] = #"{"step":2,"optimizer_step":2,"epochs":[0],"positions":["x"]}"# }, "lists of integers"),
        ]
        XCTAssertNoThrow(try Safetensors.parse(valid))
        let folder = try temporaryFolder()
        for (name, bytes, reason) in cases {
            XCTAssertNotEqual(bytes, valid, name)
            let path = "\(folder)/\(name.filter { $0.isLetter || $0.isNumber }).safetensors"
            try Files.writeAtomically(bytes, to: path)
            XCTAssertThrowsError(try Checkpoint.model(at: path), name) { error in
                XCTAssertEqual((error as? FileError)?.path, path, "\(name): \(error)")
                XCTAssertTrue("\(error)".contains(reason), "\(name): \(error)")
            }
            // The loaders of fit --init / --resume meet the same file.
            XCTAssertThrowsError(try Checkpoint.load(path, into: Model(config: Self.config)), name)
        }
        XCTAssertEqual(cases.count, 35)
    }

    func testADirectoryAFifoAndAMissingFileAreRefusedWithoutWaiting() throws {
        let folder = try temporaryFolder()
        mkfifo("\(folder)/fifo.safetensors", 0o644)
        try Files.createDirectory("\(folder)/dir.safetensors")
        for (name, reason) in [("fifo", "not a regular file"), ("dir", "is a directory"), ("none", "No such file")] {
            let started = Date()
            XCTAssertThrowsError(try Checkpoint.model(at: "\(folder)/\(name).safetensors")) { error in
                XCTAssertEqual((error as? FileError)?.path, "\(folder)/\(name).safetensors")
                XCTAssertTrue("\(error)".contains(reason), "\(name): \(error)")
            }
            XCTAssertLessThan(Date().timeIntervalSince(started), 1, name)
        }
    }
}

/// `fit --resume` on folders whose checkpoint, training state or metrics.json is damaged, or that were
/// trained with other options: refused with the file or the differing option named, quickly.
final class ResumeCorruptionTests: XCTestCase {
    static let shards: [String] = {
        let folder = try! temporaryFolder("resume-fixtures")
        var harmonize = HarmonizeOptions(dataset: .cityscapes, root: "\(fixturesFolder)/cityscapes", out: "\(folder)/manifest",
                                         mappingPath: "\(mappingsFolder)/cityscapes.yaml", taxonomyPath: taxonomyPath)
        harmonize.split = .all
        _ = try! Harmonizer.run(harmonize)
        var pack = PackOptions(inputs: [PackInput(name: "real", manifest: "\(folder)/manifest")], out: "\(folder)/shards")
        pack.split = .all
        pack.shardSamples = 3
        pack.sample.maxSize = (128, 64)
        pack.taxonomy = try! Taxonomy(contentsOf: taxonomyPath)
        return try! Packer.run(pack).shards.map { "\(folder)/shards/\($0)" }
    }()

    func options(_ out: String) throws -> FitOptions {
        let classes = try Taxonomy(contentsOf: taxonomyPath).classes.filter(\.hasInstances).map(\.name)
        var options = FitOptions(sources: [TrainingSource(name: "train0", shards: Self.shards)], out: out,
                                 config: ModelConfig(width: 4, classes: classes))
        options.steps = 2
        options.batch = 2
        (options.inputWidth, options.inputHeight) = (64, 32)
        options.checkpointEvery = 1
        options.threads = 1
        options.logEvery = 100
        return options
    }

    /// A folder holding a finished 2-step run (checkpoints at steps 1 and 2, metrics.json).
    func trainedFolder() throws -> String {
        let out = try temporaryFolder()
        _ = try Trainer.fit(try options(out)) { _ in }
        return out
    }

    func testResumingWithOtherOptionsNamesEachDifferentOption() throws {
        let out = try trainedFolder()
        let cases: [(String, (inout FitOptions) -> Void, String)] = [
            ("batch", { $0.batch = 1 }, "batch (2 there, 1 now)"),
            ("input size", { ($0.inputWidth, $0.inputHeight) = (32, 32) }, "input_size ([64,32] there, [32,32] now)"),
            ("steps", { $0.steps = 5 }, "steps (2 there, 5 now)"),
            ("shards", { $0.sources[0].shards = Array($0.sources[0].shards.prefix(1)) }, "train ("),
            ("sources", { $0.sources[0].name = "real" }, "train ("),
            ("seed", { $0.seed = 7 }, "seed (1 there, 7 now)"),
            ("lr", { $0.learningRate = 1e-3 }, "lr ("),
            ("width", { $0.config.width = 8 }, "model width (4 there, 8 now)"),
        ]
        for (name, change, difference) in cases {
            var options = try options(out)
            options.resume = true
            change(&options)
            XCTAssertThrowsError(try Trainer.fit(options) { _ in }, name) { error in
                XCTAssertTrue("\(error)".contains("was trained with other options (\(difference)"), "\(name): \(error)")
            }
        }
        // Only the thread count may differ: the run is then complete and continues as such.
        var same = try options(out)
        same.resume = true
        same.threads = 2
        XCTAssertEqual(try Trainer.fit(same) { _ in }.steps, 2)
    }

    func testADamagedTrainingStateOrMetricsIsANamedErrorAndAPositionPastTheDataDoesNotHang() throws {
        let clean = try trainedFolder()
        let checkpoint = "checkpoints/step-000002.safetensors"
        func withTraining(_ json: String) -> (String) throws -> Void {
            { out in
                let parsed = try Safetensors.parse(try Files.read("\(out)/\(checkpoint)"))
                var metadata = parsed.metadata
                metadata["synmix.training"] = json
                try Files.writeAtomically(Safetensors.serialize(parsed.tensors, metadata: metadata), to: "\(out)/\(checkpoint)")
            }
        }
        let cases: [(String, (String) throws -> Void, String, String)] = [
            ("metrics.json truncated", { out in
                let bytes = try Files.read("\(out)/metrics.json")
                try Files.writeAtomically(Array(bytes.prefix(bytes.count / 2)), to: "\(out)/metrics.json")
            }, "metrics.json", "not valid JSON"),
            ("metrics.json missing", { out in unlink("\(out)/metrics.json") }, "metrics.json", "missing: --resume needs"),
            ("metrics.json not a training log", { out in try Files.writeAtomically("{}", to: "\(out)/metrics.json") }, "metrics.json",
             "not a training metrics.json"),
            ("a position far past the data", withTraining(#"{"step":1,"optimizer_step":1,"epochs":[0],"positions":[1000000000000000000]}"#),
             Self.shards[0], "is past the 6 samples"),
            ("a negative epoch", withTraining(#"{"step":1,"optimizer_step":1,"epochs":[-1],"positions":[0]}"#), checkpoint, "negative"),
            ("a step past the run's steps", withTraining(#"{"step":1000,"optimizer_step":1000,"epochs":[0],"positions":[0]}"#),
             checkpoint, "its step 1000 is past this run's 2 steps"),
            ("the checkpoint truncated", { out in
                let bytes = try Files.read("\(out)/\(checkpoint)")
                try Files.writeAtomically(Array(bytes.prefix(bytes.count - 10)), to: "\(out)/\(checkpoint)")
            }, checkpoint, "invalid safetensors file"),
        ]
        for (name, damage, file, reason) in cases {
            let out = try temporaryFolder()
            try FileManager.default.removeItem(atPath: out)
            try FileManager.default.copyItem(atPath: clean, toPath: out)
            try damage(out)
            var options = try options(out)
            options.resume = true
            let started = Date()
            XCTAssertThrowsError(try Trainer.fit(options) { _ in }, name) { error in
                let path = (error as? FileError)?.path ?? ""
                XCTAssertTrue(path == file || path == "\(out)/\(file)", "\(name): \(error)")
                XCTAssertTrue("\(error)".contains(reason), "\(name): \(error)")
            }
            XCTAssertLessThan(Date().timeIntervalSince(started), 10, name)
        }
    }
}
