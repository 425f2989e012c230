import ArgumentParser
import COpenBLAS
import Evaluation
import Foundation
import Network
import ShardData
import SynmixCore
import TrainShards
import SynmixFormats

/// One training step of the train-shards network on random data (as
/// Benchmarks/torch_peer.py times PyTorch's), the same
/// GEMMs through plain cblas_sgemm, and inference; `--export` writes a
/// checkpoint, an input and our outputs for Benchmarks/torch_peer.py.
struct TrainStep: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train-step",
                                                    abstract: "Time the trainer's step against plain sgemm on the same shapes.")

    @Option(help: "Images per batch.") var batch = 8
    @Option(help: "Input width.") var width = 256
    @Option(help: "Input height.") var height = 128
    @Option(help: "Network width.") var channels = 24
    @Option(name: [.customLong("jobs"), .customLong("threads")], help: "Threads the step is split over.") var threads = 2
    @Option(help: "Timed steps (after --warmup).") var steps = 20
    @Option(help: "Untimed steps first.") var warmup = 5
    @Option(help: "Write model.safetensors and io.safetensors (input, our outputs) here.") var export: String?

    func run() throws {
        let classes = CityscapesEvaluation.classes.map(\.name)
        let model = Model(config: ModelConfig(width: channels, classes: classes), seed: 0)
        openblas_set_num_threads(1)
        let workspace = Workspace(model: model, batch: batch, height: height, width: width, threads: threads)
        let objective = Objective(workspace: workspace)
        var random = SplitMix64(seed: 1)
        let pixels = (height / 4) * (width / 4)
        let input = (0..<batch * 3 * height * width).map { _ in Float(random.unit() * 4 - 2) }
        let data = Batch(size: batch, images: input,
                         semantic: (0..<batch * pixels).map { _ in Int32(random.next() % UInt64(classes.count + 2)) - 1 },
                         center: (0..<batch * pixels).map { _ in Float(random.unit()) },
                         offset: (0..<batch * 2 * pixels).map { _ in Float(random.unit() * 8 - 4) },
                         offsetWeight: (0..<batch * pixels).map { _ in Float(random.next() & 1) },
                         composition: [batch], cursor: LoaderCursor(sources: 1))
        var optimizer = AdamW(parameterCount: model.parameterTotal, learningRate: 1e-3, totalSteps: 1_000_000)
        workspace.input.update(from: input, count: input.count)
        func step() {
            model.zeroGradients()
            workspace.forward(training: true)
            _ = objective.evaluate(data)
            workspace.backward()
            optimizer.update(model.parameters, UnsafeBufferPointer(model.gradients), parts: workspace.threads)
        }
        for _ in 0..<warmup { step() }
        let stepTimes = (0..<steps).map { _ in time(step) }
        var phases = [Double](repeating: 0, count: 4)
        for _ in 0..<steps {
            model.zeroGradients()
            phases[0] += time { workspace.forward(training: true) }
            phases[1] += time { _ = objective.evaluate(data) }
            phases[2] += time { workspace.backward() }
            phases[3] += time { optimizer.update(model.parameters, UnsafeBufferPointer(model.gradients), parts: workspace.threads) }
        }
        let forwardTimes = (0..<steps).map { _ in time { workspace.forward(training: false) } }

        // The same GEMMs through plain cblas_sgemm, OpenBLAS threading (no im2col, no batch split).
        openblas_set_num_threads(Int32(threads))
        let gemms = workspace.convolutions.flatMap { conv -> [(CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, Int, Int, Int)] in
            let s = conv.shape, spatial = s.outHeight * s.outWidth
            var list = [(CblasNoTrans, CblasNoTrans, s.outChannels, spatial, s.columnRows),
                        (CblasNoTrans, CblasTrans, s.outChannels, s.columnRows, spatial)]
            if conv.inputGradient { list.append((CblasTrans, CblasNoTrans, s.columnRows, spatial, s.outChannels)) }
            return Array(repeating: list, count: s.batch).flatMap { $0 }
        }
        let largest = gemms.map { max($0.2 * $0.4, $0.4 * $0.3, $0.2 * $0.3) }.max()!
        var a = [Float](repeating: 0.5, count: largest), b = a, c = a
        func plain() {
            for (ta, tb, m, n, k) in gemms {
                cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(k), 1, &a, Int32(ta == CblasNoTrans ? k : m),
                            &b, Int32(tb == CblasNoTrans ? n : k), 0, &c, Int32(n))
            }
        }
        for _ in 0..<warmup { plain() }
        let gemmTimes = (0..<steps).map { _ in time(plain) }
        openblas_set_num_threads(1)

        // Inference as predict runs it: one image, forward + grouping at the input size.
        let predictor = Predictor(model: model, inputWidth: width, inputHeight: height)
        let record = SampleRecord(id: "b/1", key: "b", source: "b", domain: .real, split: .val, width: width, height: height,
                                  originalWidth: width, originalHeight: height, imageFormat: .png, instances: [], ignore: nil)
        var raster = Raster<UInt8>(width: width, height: height, channels: 3)
        for i in raster.samples.indices { raster.samples[i] = UInt8(truncatingIfNeeded: random.next()) }
        let sample = try DecodedSample(ShardSample(key: "b", shard: "bench", json: Array(record.json.compact.utf8),
                                                   image: try PNGCodec.encode(raster, level: 1), imageFormat: "png"))
        let predictTimes = (0..<steps).map { _ in time { _ = predictor.predict(sample) } }

        let step = median(stepTimes), forward = median(forwardTimes), gemm = median(gemmTimes), predict = median(predictTimes)
        let flops = workspace.trainingFLOPs
        print(JSON.object([
            ("batch", .int(batch)), ("input", .array([.int(width), .int(height)])), ("parameters", .int(model.parameterTotal)),
            ("threads", .int(threads)),
            ("step_ms", .double(step * 1000)),
            ("phases_ms", .object(zip(["forward", "losses", "backward", "adamw"], phases).map { ($0, .double($1 / Double(steps) * 1000)) })), ("images_per_second", .double(Double(batch) / step)),
            ("train_gflop", .double(flops / 1e9)), ("step_gflops", .double(flops / step / 1e9)),
            ("sgemm_ms", .double(gemm * 1000)), ("sgemm_gflops", .double(flops / gemm / 1e9)),
            ("forward_ms", .double(forward * 1000)), ("forward_images_per_second", .double(Double(batch) / forward)),
            ("predict_ms", .double(predict * 1000)), ("predict_images_per_second", .double(1 / predict)),
        ]).pretty)

        if let export {
            // A few steps moved the weights and running statistics off their initial values; export them
            // and the eval-mode outputs of the first two images.
            try Files.createDirectory(export)
            try Checkpoint.save(model, to: "\(export)/model.safetensors", input: Checkpoint.Input(width: width, height: height))
            let check = Workspace(model: model, batch: 2, height: height, width: width)
            check.input.update(from: input, count: 2 * 3 * height * width)
            check.forward(training: false)
            let heads = Array(UnsafeBufferPointer(start: check.heads, count: 2 * model.config.headChannels * pixels))
            try Files.writeAtomically(Safetensors.serialize([
                "input": Safetensors.Tensor(Array(input[0..<2 * 3 * height * width]), shape: [2, 3, height, width]),
                "heads": Safetensors.Tensor(heads, shape: [2, model.config.headChannels, height / 4, width / 4]),
            ]), to: "\(export)/io.safetensors")
        }
    }

    func time(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
}
