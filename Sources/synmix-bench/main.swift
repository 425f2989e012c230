import ArgumentParser


import Foundation
import CImageShim
import Evaluation
import SynmixCore

/// Baselines for `make bench`: the cost floors our stages are compared with.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synmix-bench", abstract: "Benchmark baselines.",
        subcommands: [DecodeFloor.self, EvaluationData.self, EvaluateInMemory.self, TrainStep.self])
}

/// Decodes every `*_gtFine_instanceIds.png` under a Cityscapes root and does
/// nothing else, on `--jobs` threads: the floor for harmonize. With
/// `--libpng-only` every file goes through libpng (the floor the issue names);
/// without it, through synmix's decoder (libdeflate's direct path).
struct DecodeFloor: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "decode-floor")
    @Option(help: "A dataset root (or any folder of PNGs).") var root: String
    @Option(help: "Threads to decode on.") var jobs = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Only the first N files.") var limit: Int?
    @Flag(help: "Decode with libpng (zlib) instead of synmix's libdeflate path.") var libpngOnly = false
    @Option(help: "Decode the files under ROOT whose names end with this.") var suffix = "_gtFine_instanceIds.png"
    @Option(help: "Subfolder of ROOT to search.") var under = "gtFine"

    func run() throws {
        // A floor measures decoding alone: keep freed image buffers in the heap
        // instead of returning them to the kernel after every image (glibc's
        // default here costs page faults on par with the decode itself).
        synmix_keep_freed_memory()
        var files: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: "\(root)/\(under)")!
        while let path = enumerator.nextObject() as? String {
            if path.hasSuffix(suffix) { files.append("\(root)/\(under)/\(path)") }
        }
        files.sort()
        if let limit { files = Array(files.prefix(limit)) }
        let paths = files
        let started = Date()
        let options = PNGDecodeOptions(libpngOnly: libpngOnly)
        // The same worker pool the stages use (dynamic work sharing, in-order results).
        _ = parallelMap(paths, jobs: jobs) { path in
            _ = try! PNGCodec.decode(try! Files.read(path), path: path, options: options)
        }
        let seconds = Date().timeIntervalSince(started)
        print(String(format: #"{"images": %d, "seconds": %.3f, "images_per_second": %.1f}"#,
                     paths.count, seconds, Double(paths.count) / seconds))
    }
}

/// Ground truth and predictions in the Cityscapes formats for the evaluation
/// benchmark: 2048×1024 frames with ~20 instances and 100 mask PNGs each
/// (8-bit gray 0/255, as Detectron2 writes them).
struct EvaluationData: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "evaluation-data")
    @Option(help: "Output folder.") var out: String
    @Option(help: "Images.") var images = 100
    @Option(help: "Ground-truth instances per image.") var instances = 20
    @Option(help: "Predictions per image.") var predictions = 100

    func run() throws {
        let (width, height) = (2048, 1024)
        let labels = [24, 25, 26, 27, 28, 31, 32, 33]
        let images = self.images, instances = self.instances, predictions = self.predictions, out = self.out
        try Files.createDirectory("\(out)/gtFine/val/benchcity")
        try Files.createDirectory("\(out)/results/masks")
        _ = parallelMap(Array(0..<images), jobs: ProcessInfo.processInfo.activeProcessorCount) { image in
            var random = SplitMix64(seed: Seed.derive(1, "bench-image", UInt64(image)))
            func int(_ range: Range<Int>) -> Int { range.lowerBound + Int(random.next() % UInt64(range.count)) }
            let name = "benchcity_\(String(format: "%06d", image))_000019"
            var ids = Raster<UInt16>(width: width, height: height, channels: 1, filling: 7)
            for y in 0..<60 { for x in 0..<width { ids.samples[y * width + x] = 0 } }   // void band
            var boxes: [(Int, Int, Int, Int, Int)] = []
            for k in 0..<instances {
                let label = labels[int(0..<labels.count)]
                let h = int(30..<300), w = int(30..<400), y = int(60..<(height - h)), x = int(0..<(width - w))
                for r in y..<(y + h) { for c in x..<(x + w) { ids.samples[r * width + c] = UInt16(label * 1000 + k) } }
                boxes.append((label, y, x, h, w))
            }
            try! Files.writeAtomically(try! PNGCodec.encode(ids), to: "\(out)/gtFine/val/benchcity/\(name)_gtFine_instanceIds.png")
            var lines = ""
            for p in 0..<predictions {
                var mask = Raster<UInt8>(width: width, height: height, channels: 1)
                let (label, y, x, h, w) = boxes[p % boxes.count]
                let dy = int(0..<9) - 4, dx = int(0..<9) - 4, grow = int(0..<7) - 3
                let y0 = max(0, y + dy - grow), y1 = min(height, y + dy + h + grow), x0 = max(0, x + dx - grow), x1 = min(width, x + dx + w + grow)
                if y0 < y1 && x0 < x1 { for r in y0..<y1 { for c in x0..<x1 { mask.samples[r * width + c] = 255 } } }
                let file = "masks/\(name)_\(p).png"
                try! Files.writeAtomically(try! PNGCodec.encode(mask, level: 6), to: "\(out)/results/\(file)")
                lines += "\(file) \(p < boxes.count || int(0..<3) > 0 ? label : labels[int(0..<labels.count)]) \(String(format: "%.4f", Double(int(0..<10_000)) / 10_000))\n"
            }
            try! Files.writeAtomically(lines, to: "\(out)/results/\(name)_pred.txt")
        }
        print("synmix-bench: \(images) images, \(images * predictions) prediction masks in \(out)")
    }
}

/// The in-memory RLE path: ground truth and predictions are loaded first (not
/// timed), then only the evaluation is timed.
struct EvaluateInMemory: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "evaluate-in-memory")
    @Option(help: "A folder written by evaluation-data (gtFine/ and results/).") var root: String

    func run() throws {
        var options = CityscapesEvaluation.Options(groundTruth: root, predictions: "\(root)/results")
        options.split = .val
        let images = try CityscapesEvaluation.load(options).images
        let started = Date()
        let result = InstanceEvaluator(classNames: CityscapesEvaluation.classes.map(\.name)).evaluate(images)
        let seconds = Date().timeIntervalSince(started)
        print(String(format: #"{"images": %d, "seconds": %.4f, "ap": %.6f}"#, images.count, seconds, result.meanAP))
    }
}

Bench.main()
