import Foundation
import CityscapesLabels
import SynmixCore
import SynmixFormats

/// Ground truth in Cityscapes' own layout (`gtFine/SPLIT/CITY/*_gtFine_instanceIds.png`)
/// and predictions in the Cityscapes results format (docs/formats.md, "Predictions"): the
/// inputs of the official script, so any system's predictions can be scored.
public enum CityscapesEvaluation {
    /// The 8 evaluated classes in label-table order: (name, label id).
    public static let classes: [(name: String, id: Int)] = CityscapesLabel.evaluated.map { ($0.name, $0.id) }
    /// Raw instanceIds values that are void (ignoreInEval labels); 29000+/30000+ instances are not.
    static let voidValues = Set(CityscapesLabel.all.filter(\.ignoreInEval).map(\.id).filter { $0 >= 0 })
    /// Every id of the label table (an unknown id is an error, as in the official script).
    static let knownLabelIds = Set(CityscapesLabel.all.map(\.id))

    public struct InputError: Error, CustomStringConvertible, Equatable {
        public var file: String
        public var line: Int?
        public var reason: String
        public var description: String { line.map { "\(file):\($0): \(reason)" } ?? "\(file): \(reason)" }
    }

    public struct Options: Sendable {
        public var groundTruth: String   // a Cityscapes root, or its gtFine folder
        public var predictions: String
        public var split = Split.val
        public var skipBad = false
        public var jobs = ProcessInfo.processInfo.activeProcessorCount
        /// Every optional setting at its default: what `train-shards evaluate --help` shows.
        public static var defaults: Options { Options(groundTruth: "", predictions: "") }

        public init(groundTruth: String, predictions: String) {
            self.groundTruth = groundTruth
            self.predictions = predictions
        }
    }

    public struct Outcome: Sendable {
        public var result: InstanceEvaluator.Result
        public var skipped: [InputError]
    }

    public static func run(_ options: Options) throws -> Outcome {
        let (images, skipped) = try load(options)
        let evaluator = InstanceEvaluator(classNames: classes.map(\.name))
        return Outcome(result: evaluator.evaluate(images), skipped: skipped)
    }

    /// The official score of the predictions against the ground truth (cityscapesScripts' numbers), as a result
    /// and as its file (with the skipped images and, `coco`, COCOeval's twelve mask numbers).
    public static func score(_ options: Options, coco: Bool) throws -> (result: InstanceEvaluator.Result, file: EvaluationResult, skipped: [InputError]) {
        let (images, skipped) = try load(options)
        let classNames = classes.map(\.name)
        let result = InstanceEvaluator(classNames: classNames).evaluate(images)
        var file = result.file
        file.skipped = skipped.map { "\($0)" }
        if coco { file.coco = zip(COCOEvaluator.statNames, COCOEvaluator().evaluate(images, classCount: classNames.count)).map { ($0, $1) } }
        return (result, file, skipped)
    }

    /// Reads ground truth and predictions into RLE images (what `run` evaluates).
    public static func load(_ options: Options) throws -> (images: [InstanceEvaluator.Image], skipped: [InputError]) {
        let gtRoot = Files.isDirectory("\(options.groundTruth)/gtFine") ? "\(options.groundTruth)/gtFine" : options.groundTruth
        let splitFolder = "\(gtRoot)/\(options.split.rawValue)"
        guard Files.isDirectory(splitFolder) else { throw InputError(file: splitFolder, line: nil, reason: "no such ground-truth folder") }
        var gtFiles: [String] = []
        for city in Files.list(splitFolder) {
            for name in Files.list("\(splitFolder)/\(city)") where name.hasSuffix("_gtFine_instanceIds.png") {
                gtFiles.append("\(splitFolder)/\(city)/\(name)")
            }
        }
        guard !gtFiles.isEmpty else { throw InputError(file: splitFolder, line: nil, reason: "no *_gtFine_instanceIds.png files") }
        let predictionRoot = Files.absolute(options.predictions)
        guard Files.isDirectory(predictionRoot) else { throw InputError(file: predictionRoot, line: nil, reason: "no such predictions folder") }
        let txtFiles = walk(predictionRoot).filter { $0.hasSuffix(".txt") }

        // Images are read and their masks turned into RLE on all cores; only the RLE stays in memory.
        let loaded = parallelMap(gtFiles.sorted(), jobs: options.jobs) { gtFile -> Result<InstanceEvaluator.Image, InputError> in
            do {
                return .success(try image(gtFile: gtFile, txtFiles: txtFiles, predictionRoot: predictionRoot))
            } catch let error as InputError {
                return .failure(error)
            } catch {
                return .failure(InputError(file: gtFile, line: nil, reason: "\(error)"))
            }
        }
        var images: [InstanceEvaluator.Image] = []
        var skipped: [InputError] = []
        for result in loaded {
            switch result {
            case .success(let image): images.append(image)
            case .failure(let error):
                guard options.skipBad else { throw error }
                skipped.append(error)
            }
        }
        return (images, skipped)
    }

    /// The predictions of the image called `name` in a results-format folder: the one txt among `txtFiles`
    /// whose name is `name` followed by `_` or `.` (the official script's `CITY_SEQ_FRAME*.txt`, without
    /// letting `a_1` claim `a_10`'s file), masks at `width`×`height`.
    public static func predictions(forImage name: String, txtFiles: [String], root: String, width: Int, height: Int) throws
        -> [InstanceEvaluator.Prediction] {
        let matches = txtFiles.filter {
            let file = ($0 as NSString).lastPathComponent
            return file.hasPrefix(name + "_") || file.hasPrefix(name + ".")
        }
        guard matches.count == 1 else {
            throw InputError(file: root, line: nil, reason: matches.isEmpty ? "no prediction file \(name)_*.txt for image \(name)"
                                                                        : "\(matches.count) prediction files for image \(name): \(matches.joined(separator: ", "))")
        }
        return try readPredictions(matches[0], predictionRoot: root, width: width, height: height)
    }

    /// Every file under `root`, sorted (the txt files of a results-format folder are found among them).
    public static func walk(_ root: String) -> [String] {
        var files: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let path = enumerator?.nextObject() as? String { files.append("\(root)/\(path)") }
        return files.sorted()
    }

    /// One ground-truth image with its predictions.
    static func image(gtFile: String, txtFiles: [String], predictionRoot: String) throws -> InstanceEvaluator.Image {
        let gt = try readGroundTruth(gtFile)
        // CITY_SSSSSS_FFFFFF: the txt that matches fnmatch("CITY_SSSSSS_FFFFFF*.txt"), exactly one.
        let base = (gtFile as NSString).lastPathComponent.replacingOccurrences(of: "_gtFine_instanceIds.png", with: "")
        let matches = txtFiles.filter { ($0 as NSString).lastPathComponent.hasPrefix(base) }
        guard matches.count == 1 else {
            throw InputError(file: gtFile, line: nil,
                             reason: matches.isEmpty ? "no prediction file \(base)*.txt under \(predictionRoot)"
                                                     : "\(matches.count) prediction files match \(base)*.txt: \(matches.joined(separator: ", "))")
        }
        let predictions = try readPredictions(matches[0], predictionRoot: predictionRoot, width: gt.width, height: gt.height)
        return InstanceEvaluator.Image(groundTruth: gt.instances, void: gt.void, predictions: predictions)
    }

    static func readGroundTruth(_ path: String) throws -> (instances: [InstanceEvaluator.GroundTruth], void: RLE?, width: Int, height: Int) {
        let pixels: PNGPixels
        do { pixels = try PNGCodec.decode(try Files.read(path), path: path) } catch {
            throw InputError(file: path, line: nil, reason: "\(error)")
        }
        guard case .sixteenBit(let ids) = pixels, ids.channels == 1 else {
            throw InputError(file: path, line: nil, reason: "instanceIds PNG must be 16-bit grayscale")
        }
        let regions = ids.samples.withUnsafeBufferPointer { RegionEncoder.encode($0, height: ids.height, width: ids.width) }
        var instances: [InstanceEvaluator.GroundTruth] = []
        var void: [RLE] = []
        for (value, mask) in regions {
            let label = value < 1000 ? Int(value) : Int(value) / 1000
            if voidValues.contains(Int(value)) { void.append(mask) }
            if let c = classes.firstIndex(where: { $0.id == label }) {
                instances.append(InstanceEvaluator.GroundTruth(classIndex: c, isGroup: value < 1000, mask: mask))
            }
        }
        return (instances, void.isEmpty ? nil : RLE.union(void, height: ids.height, width: ids.width), ids.width, ids.height)
    }

    /// Lines `relative/mask.png LABELID CONFIDENCE`, single spaces; paths relative
    /// to the txt's folder and inside the prediction root. A repeated mask path
    /// keeps its first position and its last values, as the official dict does.
    static func readPredictions(_ txt: String, predictionRoot: String, width: Int, height: Int) throws -> [InstanceEvaluator.Prediction] {
        guard let text = try? String(contentsOfFile: txt, encoding: .utf8) else {
            throw InputError(file: txt, line: nil, reason: "cannot read the prediction file")
        }
        let folder = (txt as NSString).deletingLastPathComponent
        var order: [String] = []
        var entries: [String: (label: Int, score: Double, line: Int)] = [:]
        // Line ends as Python's universal newlines read them: LF, CRLF ("\r\n" is one
        // Character in Swift, so splitting on "\n" alone would keep such a file as one line) or CR.
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        if lines.last == "" { lines.removeLast() }
        for (index, line) in lines.enumerated() {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 3, let labelValue = Double(parts[1]), let score = Double(parts[2]), !parts[0].isEmpty else {
                throw InputError(file: txt, line: index + 1, reason: "expected 'mask.png LABELID CONFIDENCE' with single spaces, got '\(line)'")
            }
            guard !parts[0].hasPrefix("/") else { throw InputError(file: txt, line: index + 1, reason: "mask path must be relative to the txt's folder") }
            let path = URL(fileURLWithPath: "\(folder)/\(parts[0])").standardizedFileURL.path
            guard path.hasPrefix(predictionRoot.hasSuffix("/") ? predictionRoot : predictionRoot + "/") else {
                throw InputError(file: txt, line: index + 1, reason: "mask \(parts[0]) lies outside the prediction folder")
            }
            guard score.isFinite, labelValue.isFinite else {
                throw InputError(file: txt, line: index + 1, reason: "label id and confidence must be finite numbers, got '\(line)'")
            }
            // int(float(x)) as the official script reads it; a value beyond Int's range is no label id either
            // (found by `make fuzz`: "28E56" used to trap here).
            guard let label = Int(exactly: labelValue.rounded(.towardZero)), knownLabelIds.contains(label) else {
                throw InputError(file: txt, line: index + 1, reason: "unknown label id \(parts[1])")
            }
            if entries[path] == nil { order.append(path) }
            entries[path] = (label, score, index + 1)
        }
        var predictions: [InstanceEvaluator.Prediction] = []
        for path in order {
            let entry = entries[path]!
            guard let c = classes.firstIndex(where: { $0.id == entry.label }) else { continue }   // not evaluated: skipped
            let mask = try readMask(path, txt: txt, line: entry.line, width: width, height: height)
            predictions.append(InstanceEvaluator.Prediction(classIndex: c, score: entry.score, mask: mask))
        }
        return predictions
    }

    /// Writes one image's predictions in the results format `readPredictions` reads:
    /// `NAME_pred.txt` with lines `masks/NAME_I.png LABELID SCORE` and 8-bit 0/255
    /// masks. Classes the evaluation does not score are left out.
    public static func writePredictions(image name: String, _ predictions: [(className: String, score: Double, mask: RLE)],
                                        to folder: String) throws {
        var lines: [String] = []
        for (i, prediction) in predictions.enumerated() {
            guard let labelId = classes.first(where: { $0.name == prediction.className })?.id else { continue }
            let mask = Raster<UInt8>(width: prediction.mask.width, height: prediction.mask.height, channels: 1,
                                     samples: prediction.mask.decode().map { $0 * 255 })
            let file = "masks/\(name)_\(i).png"
            try Files.writeAtomically(try PNGCodec.encode(mask, level: 1), to: "\(folder)/\(file)")
            lines.append("\(file) \(labelId) \(prediction.score)")
        }
        try Files.writeAtomically(lines.map { $0 + "\n" }.joined(), to: "\(folder)/\(name)_pred.txt")
    }

    /// A mask PNG as PIL's convert("L") sees it: gray as is, colour by luma; nonzero is the instance.
    static func readMask(_ path: String, txt: String, line: Int, width: Int, height: Int) throws -> RLE {
        let pixels: PNGPixels
        do { pixels = try PNGCodec.decode(try Files.read(path), path: path) } catch {
            throw InputError(file: txt, line: line, reason: "mask \(path): \(error)")
        }
        let mask: RLE
        switch pixels {
        case .eightBit(let raster) where raster.channels == 1:
            // The common case (Detectron2 writes 8-bit 0/255 masks): straight to RLE.
            mask = raster.samples.withUnsafeBufferPointer { RegionEncoder.nonzero($0, height: raster.height, width: raster.width) }
        default:
            var on = [UInt8](repeating: 0, count: pixels.width * pixels.height)
            switch pixels {
            case .sixteenBit(let raster):
                for i in on.indices { on[i] = raster.samples[i * raster.channels] != 0 ? 1 : 0 }
            case .eightBit(let raster) where raster.channels < 3:
                for i in on.indices { on[i] = raster.samples[i * raster.channels] != 0 ? 1 : 0 }
            case .eightBit(let raster):
                for i in on.indices {
                    let r = Int(raster.samples[i * raster.channels]), g = Int(raster.samples[i * raster.channels + 1])
                    let b = Int(raster.samples[i * raster.channels + 2])
                    on[i] = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16 != 0 ? 1 : 0   // PIL's L = R·299/1000 + G·587/1000 + B·114/1000
                }
            }
            mask = RLE.encode(mask: on, height: pixels.height, width: pixels.width)
        }
        guard mask.isEmpty || (pixels.width == width && pixels.height == height) else {
            throw InputError(file: txt, line: line, reason: "mask \(path) is \(pixels.width)x\(pixels.height), the image is \(width)x\(height)")
        }
        return mask.isEmpty ? RLE.empty(height: height, width: width) : mask
    }
}
