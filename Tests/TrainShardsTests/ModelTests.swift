import Foundation
import XCTest
@testable import Network
@testable import ShardData
@testable import TrainShards
import SynmixCore
import TestSupport
import SynmixFormats

/// The assembled network, its targets, post-processing and checkpoints.
final class ModelTests: XCTestCase {
    let tinyConfig = ModelConfig(width: 4, classes: ["car", "person"])

    func testParameterNamesAndShapesFollowPyTorch() {
        let model = Model(config: ModelConfig(width: 24, classes: ["person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"]))
        let shapes = Dictionary(uniqueKeysWithValues: model.parameterSlots.map { ($0.name, $0.shape) })
        XCTAssertEqual(shapes["stem.0.conv.weight"], [24, 3, 3, 3])
        XCTAssertEqual(shapes["stage2.1.conv1.conv.weight"], [48, 48, 3, 3])
        XCTAssertEqual(shapes["stage3.0.conv.weight"], [96, 48, 3, 3])
        XCTAssertEqual(shapes["decoder.reduce.conv.weight"], [24, 96, 1, 1])
        XCTAssertEqual(shapes["semantic.weight"], [9, 24, 1, 1])
        XCTAssertEqual(shapes["offset.bias"], [2])
        XCTAssertEqual(model.bufferSlots.first?.name, "stem.0.bn.running_mean")
        XCTAssertEqual(model.parameterTotal, 284_964)
        XCTAssertEqual(model.parameterSlots.count, 3 * 13 + 6)   // 13 conv+bn blocks, 3 heads × (weight, bias)
    }

    /// Whole-network check: L = Σ r·heads in training mode; 60 random parameters
    /// by central differences within 2 % of the largest gradient + 1e-3. ε = 1e-4:
    /// larger steps cross ReLU kinks of the many units downstream of early layers
    /// (measured on a stem weight: ε 1e-2 → −5.5, 1e-3 → −13.0, 1e-4 → −18.0, analytic −18.3).
    func testNetworkGradientsMatchFiniteDifferences() {
        let model = Model(config: tinyConfig, seed: 5)
        let workspace = Workspace(model: model, batch: 2, height: 32, width: 32, threads: 2)
        var random = SplitMix64(seed: 9)
        for i in 0..<2 * 3 * 32 * 32 { workspace.input[i] = Float(random.unit() * 2 - 1) }
        let headCount = 2 * tinyConfig.headChannels * 8 * 8
        let r = (0..<headCount).map { _ in Float(random.unit() * 2 - 1) }
        func loss() -> Double {
            workspace.forward(training: true)
            return (0..<headCount).reduce(0) { $0 + Double(workspace.heads[$1]) * Double(r[$1]) }
        }
        _ = loss()
        for i in 0..<headCount { workspace.dHeads[i] = r[i] }
        model.zeroGradients()
        workspace.backward()
        let analytic = Array(model.gradients)
        let largest = analytic.map { abs($0) }.max()!
        var worst: Float = 0
        for _ in 0..<60 {
            let i = Int(random.next() % UInt64(model.parameterTotal))
            let saved = model.parameters[i]
            model.parameters[i] = saved + 1e-4
            let plus = loss()
            model.parameters[i] = saved - 1e-4
            let minus = loss()
            model.parameters[i] = saved
            worst = max(worst, abs(Float((plus - minus) / 2e-4) - analytic[i]))
        }
        XCTAssertGreaterThan(largest, 0.1)
        XCTAssertLessThanOrEqual(worst, 0.02 * largest + 1e-3, "worst difference \(worst), largest gradient \(largest)")
    }

    func testThreadCountDoesNotChangeTheForwardPass() {
        let model = Model(config: tinyConfig, seed: 1)
        var outputs: [[Float]] = []
        for threads in [1, 2] {
            let workspace = Workspace(model: model, batch: 4, height: 32, width: 48, threads: threads)
            for i in 0..<4 * 3 * 32 * 48 { workspace.input[i] = Float(i % 17) / 17 - 0.5 }
            workspace.forward(training: false)
            outputs.append(Array(UnsafeBufferPointer(start: workspace.heads, count: 4 * tinyConfig.headChannels * 8 * 12)))
        }
        XCTAssertEqual(outputs[0], outputs[1])   // images are independent: the split cannot change a value
    }

    /// A 16×8 sample with a 4×4 car at x 8..<12, y 0..<4 and ignore at x 0..<4.
    func sample() throws -> DecodedSample {
        var car = [UInt8](repeating: 0, count: 16 * 8), ignore = car
        for y in 0..<4 { for x in 8..<12 { car[y * 16 + x] = 1 } }
        for y in 0..<8 { for x in 0..<4 { ignore[y * 16 + x] = 1 } }
        let record = SampleRecord(id: "t/1", key: "k", source: "t", domain: .real, split: .train, width: 16, height: 8,
                                  originalWidth: 16, originalHeight: 8, imageFormat: .png, instances: [InstanceRecord(id: 0, className: "car", isCrowd: false,
                                                               mask: RLE.encode(mask: car, height: 8, width: 16), sourceId: 26000)],
                                    ignore: RLE.encode(mask: ignore, height: 8, width: 16))
        let json = Array(record.json.compact.utf8)
        var raster = Raster<UInt8>(width: 16, height: 8, channels: 3)
        for i in 0..<raster.samples.count { raster.samples[i] = UInt8(i % 251) }
        return try DecodedSample(ShardSample(key: "k", shard: "s.tar", json: json, image: try PNGCodec.encode(raster), imageFormat: "png"))
    }

    func testTargetsAtStrideFour() throws {
        var random = SplitMix64(seed: 0)
        let prepared = Targets.prepare(try sample(), classes: ["person", "car"], width: 16, height: 8, augmentation: nil, sigma: 1,
                                       random: &random)
        // Head 4×2: column 0 is ignore, column 2 row 0 the car (class index 1 → label 2), the rest background.
        XCTAssertEqual(prepared.semantic, [-1, 0, 2, 0, -1, 0, 0, 0])
        XCTAssertEqual(prepared.center[2], 1)                       // the car's only head pixel is its centre
        XCTAssertEqual(prepared.center[3], expf(-0.5), accuracy: 1e-6)  // one head pixel away, σ = 1
        XCTAssertEqual(prepared.offsetWeight, [0, 0, 1, 0, 0, 0, 0, 0])
        XCTAssertEqual(prepared.image[0], Targets.normalise(0))     // unaugmented: pixels copied exactly
        XCTAssertEqual(prepared.image[16 * 8 + 1], Targets.normalise(4))   // green channel of pixel 1
    }

    func testResamplingComputesEachPixelByTheBilinearFormulaInAndBeyondFourColumnGroups() {
        // 5×3 RGB sample, 7 columns inside it from x = 1 (a group of four and three more) and a row outside (y = 1).
        var pixels = Raster<UInt8>(width: 5, height: 3, channels: 3)
        for i in 0..<pixels.samples.count { pixels.samples[i] = UInt8((i * 37) % 256) }
        let columns: [(x: Int, taps: (Int, Int, Float))] = (0..<7).map { i in
            let left = i % 5
            return (x: i + 1, taps: (left, min(left + 1, 4), Float(i) / 8))
        }
        let rows: [(Int, Int, Float)?] = [(0, 1, 0.25), nil, (1, 2, 0.75)]
        let image = Targets.resample(pixels, columns: columns, rows: rows, width: 9)
        XCTAssertEqual(image.count, 3 * 3 * 9)
        for c in 0..<3 {
            for (y, row) in rows.enumerated() {
                for x in 0..<9 {
                    var expected: Float = 0
                    if let (y0, y1, wy) = row, let column = columns.first(where: { $0.x == x }) {
                        let (x0, x1, wx) = column.taps
                        func at(_ yy: Int, _ xx: Int) -> Float { Float(pixels.samples[(yy * 5 + xx) * 3 + c]) }
                        let top = at(y0, x0) * (1 - wx) + at(y0, x1) * wx, bottom = at(y1, x0) * (1 - wx) + at(y1, x1) * wx
                        expected = ((top * (1 - wy) + bottom * wy) / 255 - 0.5) * 4
                    }
                    XCTAssertEqual(image[(c * 3 + y) * 9 + x], expected, "channel \(c) at (\(x), \(y))")
                }
            }
        }
        // Pixel (1, 0) in red: column 0 has weight 0, so it blends samples (0, 0) and (0, 1) of the sample by the row's 0.25.
        let blended: Float = Float(pixels.samples[0]) * 0.75 + Float(pixels.samples[15]) * 0.25
        XCTAssertEqual(image[1], (blended / 255 - 0.5) * 4, accuracy: 1e-6)
    }

    func testDecodedSamplesAreKeptUntilTheBudgetIsSpentAndABadSampleIsNeverKept() throws {
        func shardSample(_ key: String, image: [UInt8]? = nil) throws -> ShardSample {
            let source = try sample()
            var record = source.record
            record.key = key
            return ShardSample(key: key, shard: "s.tar", json: Array(record.json.compact.utf8),
                               image: try image ?? PNGCodec.encode(source.pixels), imageFormat: "png")
        }
        let first = try shardSample("a"), second = try shardSample("b")
        let size = 16 * 8 * 3 + 4 * first.json.count
        let cache = DecodedSamples(budget: size + size / 2)   // room for one sample
        XCTAssertEqual(try cache.sample(first).pixels, try sample().pixels)
        XCTAssertEqual(cache.bytes, size)
        XCTAssertEqual(try cache.sample(second).key, "b")
        XCTAssertEqual(cache.bytes, size)   // over the budget: decoded, not kept
        XCTAssertEqual(try cache.sample(first).record.instances.map(\.className), ["car"])
        XCTAssertEqual(cache.bytes, size)   // kept once
        let broken = try shardSample("c", image: [1, 2, 3])
        let roomy = DecodedSamples(budget: 1 << 20)
        for _ in 0..<2 { XCTAssertThrowsError(try roomy.sample(broken)) { XCTAssertTrue("\($0)".contains("s.tar"), "\($0)") } }
        XCTAssertEqual(roomy.bytes, 0)
        let none = DecodedSamples(budget: 0)
        XCTAssertEqual(try none.sample(first).key, "a")
        XCTAssertEqual(none.bytes, 0)
    }

    func testFlipMirrorsImageAndTargets() throws {
        var augmentation = Augmentation()
        augmentation.minScale = 1
        augmentation.maxScale = 1
        var flipped: PreparedSample?
        for seed in 0..<8 where flipped == nil {   // find a seed that flips
            var random = SplitMix64(seed: UInt64(seed))
            let p = Targets.prepare(try sample(), classes: ["person", "car"], width: 16, height: 8, augmentation: augmentation, random: &random)
            if p.semantic[1] == 2 { flipped = p }
        }
        let p = try XCTUnwrap(flipped)
        XCTAssertEqual(p.semantic, [0, 2, 0, -1, 0, 0, 0, -1])
        var random = SplitMix64(seed: 0)
        let plain = Targets.prepare(try sample(), classes: ["person", "car"], width: 16, height: 8, augmentation: nil, random: &random)
        for x in 0..<16 { XCTAssertEqual(p.image[x], plain.image[15 - x]) }
    }

    func testGroupingPrefersCentresOfThePixelsClass() {
        // 1 class + background, head 4×4, output 4×4 (one pixel per head pixel, no interpolation).
        let classes = 2, pixels = 16
        var heads = [Float](repeating: 0, count: (classes + 4) * pixels)
        func set(_ channel: Int, _ y: Int, _ x: Int, _ v: Float) { heads[channel * pixels + y * 4 + x] = v }
        for y in 0..<4 { for x in 0..<4 { set(0, y, x, 5) } }             // background everywhere…
        for y in 0..<2 { for x in 0..<2 { set(0, y, x, 0); set(1, y, x, 5) } }   // …but class 0 top-left
        for y in 2..<4 { for x in 2..<4 { set(0, y, x, 0); set(2, y, x, 5) } }   // and class 1 bottom-right
        set(3, 0, 0, 0.9)
        set(3, 3, 3, 0.6)
        let instances = heads.withUnsafeBufferPointer {
            PostProcessor().instances(heads: $0.baseAddress!, classes: classes, headHeight: 4, headWidth: 4, width: 4, height: 4)
        }
        XCTAssertEqual(instances.count, 2)
        XCTAssertEqual(instances.map(\.classIndex), [0, 1])
        XCTAssertEqual(instances.map(\.mask.area), [4, 4])
        XCTAssertEqual(instances[0].mask.bbox, [0, 0, 2, 2])
        XCTAssertEqual(instances[0].score, 0.9 * Double(expf(5) / (expf(5) + 2)), accuracy: 1e-6)
    }

    func testBatchCompositionFollowsTheShares() {
        XCTAssertEqual(BatchLoader.composition(step: 3, batch: 8, shares: [0.5, 0.5], seed: 1), [4, 4])
        var total = [0, 0]
        for step in 0..<1000 {
            let counts = BatchLoader.composition(step: step, batch: 8, shares: [0.3, 0.7], seed: 1)
            XCTAssertEqual(counts.reduce(0, +), 8)
            XCTAssertTrue(counts[0] == 2 || counts[0] == 3)
            total[0] += counts[0]
            total[1] += counts[1]
        }
        XCTAssertEqual(Double(total[0]) / 8000, 0.3, accuracy: 0.01)
        XCTAssertEqual(BatchLoader.composition(step: 7, batch: 8, shares: [0.3, 0.7], seed: 1),
                       BatchLoader.composition(step: 7, batch: 8, shares: [0.3, 0.7], seed: 1))
    }

    func testCheckpointRoundTripGivesIdenticalPredictions() throws {
        let folder = try temporaryFolder()
        let model = Model(config: tinyConfig, seed: 3)
        for i in 0..<model.bufferSlots.reduce(0, { $0 + $1.count }) { model.buffers[i] = 1 + Float(i % 5) / 10 }
        model.batchesTracked = 12
        try Checkpoint.save(model, to: "\(folder)/a.safetensors", input: Checkpoint.Input(width: 64, height: 32))
        let (loaded, input) = try Checkpoint.model(at: "\(folder)/a.safetensors")
        XCTAssertEqual(input, Checkpoint.Input(width: 64, height: 32))
        XCTAssertEqual(Array(loaded.parameters), Array(model.parameters))
        XCTAssertEqual(loaded.batchesTracked, 12)
        let decoded = try sample()
        let a = Predictor(model: model, inputWidth: 16, inputHeight: 16), b = Predictor(model: loaded, inputWidth: 16, inputHeight: 16)
        a.postProcessor.threshold = -10   // keep every peak so the comparison covers masks and scores
        b.postProcessor.threshold = -10
        let pa = a.predict(decoded), pb = b.predict(decoded)
        XCTAssertFalse(pa.isEmpty)
        XCTAssertEqual(pa.map(\.mask), pb.map(\.mask))
        XCTAssertEqual(pa.map(\.score), pb.map(\.score))
        XCTAssertEqual(Array(UnsafeBufferPointer(start: a.workspace.heads, count: tinyConfig.headChannels * 16)),
                       Array(UnsafeBufferPointer(start: b.workspace.heads, count: tinyConfig.headChannels * 16)))
        // The same file saved again is byte-identical.
        try Checkpoint.save(loaded, to: "\(folder)/b.safetensors", input: input)
        XCTAssertEqual(try Files.read("\(folder)/a.safetensors"), try Files.read("\(folder)/b.safetensors"))
    }

    func testACheckpointOfAnotherArchitectureIsRefused() throws {
        let folder = try temporaryFolder()
        try Checkpoint.save(Model(config: tinyConfig), to: "\(folder)/tiny.safetensors", input: nil)
        let other = Model(config: ModelConfig(width: 8, classes: ["car", "person"]))
        XCTAssertThrowsError(try Checkpoint.load("\(folder)/tiny.safetensors", into: other)) { error in
            XCTAssertEqual("\(error)", "\(folder)/tiny.safetensors: checkpoint of another architecture: it holds "
                + #"{"architecture":"synmix-bottom-up-v1","width":4,"classes":["car","person"]}, this model is "#
                + #"{"architecture":"synmix-bottom-up-v1","width":8,"classes":["car","person"]}"#)
        }
        try Files.writeAtomically(Safetensors.serialize(["x": .init([1] as [Float], shape: [1])]), to: "\(folder)/plain.safetensors")
        XCTAssertThrowsError(try Checkpoint.load("\(folder)/plain.safetensors", into: other)) { error in
            XCTAssertEqual("\(error)", "\(folder)/plain.safetensors: no synmix.config metadata: not a synmix checkpoint")
        }
    }

    func testCheckpointsReadInPythonWithTheExpectedNamesShapesAndValues() throws {
        guard let python = interopPython else { throw XCTSkip(interopSkipReason) }
        let folder = try temporaryFolder()
        let model = Model(config: tinyConfig, seed: 4)
        try Checkpoint.save(model, to: "\(folder)/m.safetensors", input: nil)
        let (status, output) = try runProgram(python, ["\(repositoryRoot)/Tests/interop/checkpoint_check.py", "\(folder)/m.safetensors"])
        XCTAssertEqual(status, 0)
        let report = try JSON.parse(Array(output.utf8))
        XCTAssertEqual(report["metadata"]?["synmix.config"]?.stringValue, tinyConfig.json.compact)
        for slot in model.parameterSlots {
            let entry = try XCTUnwrap(report["tensors"]?[slot.name], slot.name)
            XCTAssertEqual(entry["dtype"]?.stringValue, "float32")
            XCTAssertEqual(entry["shape"]?.arrayValue?.compactMap(\.intValue), slot.shape)
            let values = Array(model.parameters[slot.offset..<slot.offset + slot.count])
            XCTAssertEqual(entry["first"]?.doubleValue, Double(values[0]))
            XCTAssertEqual(entry["sum"]!.doubleValue!, values.reduce(0.0) { $0 + Double($1) }, accuracy: 1e-9)
        }
        XCTAssertEqual(report["tensors"]?["stage1.1.conv2.bn.num_batches_tracked"]?["dtype"]?.stringValue, "int64")
        XCTAssertEqual(report["count"]?.intValue, model.parameterSlots.count + model.bufferSlots.count + 13)
    }
}
