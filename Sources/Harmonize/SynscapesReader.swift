import Foundation
import CityscapesLabels
import SynmixCore
import SynmixFormats

/// Synscapes in its original layout (docs/formats.md lists what we read of it): `img/rgb/N.png`,
/// `img/class/N.png` (Cityscapes label ids), `img/instance/N.png` (id =
/// R + 256·G + 65536·B) and `meta/N.json`, N = 1, 2, … unpadded.
/// There is no official split: the highest-numbered `valFraction` of the
/// images are val, the rest train (24001…25000 for the full dataset).
public struct SynscapesReader: DatasetReader {
    public let root: String
    public let split: SplitSelection
    public let valFraction: Double
    public let taxonomy: Taxonomy
    public let mapping: LabelMapping
    public let verifyImages: Bool
    public let maxPixels: Int

    public init(root: String, split: SplitSelection, valFraction: Double, taxonomy: Taxonomy, mapping: LabelMapping,
                verifyImages: Bool = false, maxPixels: Int = PNGDecodeOptions.defaultMaxPixels) {
        self.root = root
        self.split = split
        self.valFraction = valFraction
        self.taxonomy = taxonomy
        self.mapping = mapping
        self.verifyImages = verifyImages
        self.maxPixels = maxPixels
    }

    /// The class PNG holds Cityscapes label ids.
    public static let sourceLabelIds = CityscapesLabel.pixelIds
    /// Meta classes: the Cityscapes instance labels (32/33 = motorcyclist/bicyclist units).
    public static let sourceInstanceClassIds = CityscapesLabel.instanceIds

    private static let folders = [("img/rgb", "png"), ("img/class", "png"), ("img/instance", "png"), ("meta", "json")]

    /// Number of val images among `count` (rounded, so 4 % of 25 000 is exactly 1 000).
    public static func valCount(of count: Int, fraction: Double) -> Int {
        min(count, max(0, Int((Double(count) * fraction).rounded())))
    }

    public func discover() throws -> [SampleLocation] {
        guard Files.isDirectory("\(root)/img") || Files.isDirectory("\(root)/meta") else {
            throw HarmonizeError.badRoot(root, "no img/ or meta/ folder: not a Synscapes root")
        }
        guard split != .test else {
            throw HarmonizeError.badOption("--split test: Synscapes has train, val (by --val-fraction) or all")
        }
        guard (0...1).contains(valFraction) else {
            throw HarmonizeError.badOption("--val-fraction \(valFraction) must be within 0...1")
        }
        var present: [Set<Int>] = []
        for (folder, ext) in Self.folders {
            present.append(Set(Files.list("\(root)/\(folder)").compactMap { name -> Int? in
                guard let stem = name.dropSuffix(".\(ext)"), let number = Int(stem), number > 0,
                      String(number) == stem else { return nil }
                return number
            }))
        }
        let numbers = present.reduce(Set<Int>()) { $0.union($1) }.sorted()
        let firstVal = numbers.count - Self.valCount(of: numbers.count, fraction: valFraction)
        var samples: [SampleLocation] = []
        for (rank, number) in numbers.enumerated() {
            let sampleSplit: Split = rank >= firstVal ? .val : .train
            guard split.includes(sampleSplit) else { continue }
            var sample = SampleLocation(id: "synscapes/\(number)", split: sampleSplit,
                                        primaryFile: "\(root)/img/instance/\(number).png")
            let missing = Self.folders.indices.filter { !present[$0].contains(number) }
            if !missing.isEmpty {
                let names = missing.map { "\(Self.folders[$0].0)/\(number).\(Self.folders[$0].1)" }
                // Name the label file where there is one: that is what a user goes to look at.
                let have = [2, 1, 3, 0].first { present[$0].contains(number) }!
                sample.problem = FileError(path: "\(root)/\(Self.folders[have].0)/\(number).\(Self.folders[have].1)",
                                             reason: "incomplete sample: missing \(names.joined(separator: ", "))")
            }
            samples.append(sample)
        }
        return samples.sorted { $0.id < $1.id }
    }

    public func read(_ sample: SampleLocation) throws(FileError) -> (ManifestRecord, SampleStats) {
        if let problem = sample.problem { throw problem }
        let number = sample.id.dropFirst("synscapes/".count)
        let image = "img/rgb/\(number).png"
        let classFile = "\(root)/img/class/\(number).png"
        let instanceFile = "\(root)/img/instance/\(number).png"
        let metaFile = "\(root)/meta/\(number).json"

        let meta = try SynscapesMeta(path: metaFile)
        let classPixels = try readPNG(classFile, options: PNGDecodeOptions(maxPixels: maxPixels, paletteIndices: true))
        guard case .eightBit(let classes) = classPixels, classes.channels == 1 else {
            throw FileError(path: classFile, reason: "class PNG must be 8-bit grayscale, found \(classPixels.bitDepth)-bit with \(classPixels.channels) channel(s)")
        }
        let instancePixels = try readPNG(instanceFile, options: PNGDecodeOptions(maxPixels: maxPixels, stripAlpha: true))
        guard case .eightBit(let instanceRGB) = instancePixels, instanceRGB.channels == 3 else {
            throw FileError(path: instanceFile, reason: "instance PNG must be 8-bit RGB or RGBA, found \(instancePixels.bitDepth)-bit with \(instancePixels.channels) channel(s)")
        }
        let (width, height) = (classes.width, classes.height)
        guard instanceRGB.width == width, instanceRGB.height == height else {
            throw FileError(path: instanceFile, reason: "instance PNG is \(instanceRGB.width)x\(instanceRGB.height) but the class PNG is \(width)x\(height)")
        }
        let header = try checkImagePNG("\(root)/\(image)", verify: verifyImages, maxPixels: maxPixels)
        guard header.width == width, header.height == height else {
            throw FileError(path: classFile, reason: "labels are \(width)x\(height) but img/rgb/\(number).png is \(header.width)x\(header.height)")
        }

        let keys = try segmentKeys(classes: classes, instances: instanceRGB, meta: meta,
                                   classFile: classFile, instanceFile: instanceFile, metaFile: metaFile)
        let regions = keys.withUnsafeBufferPointer { RegionEncoder.encode($0, height: height, width: width) }

        var instances: [InstanceRecord] = []
        var ignore: RLE?
        var stats = SampleStats()
        var withPixels = Set<Int>()
        for (key, mask) in regions {   // ascending key = ascending (instance id, class id)
            switch key {
            case SegmentKey.background: continue
            case SegmentKey.ignore: ignore = mask
            default:
                let (sourceId, classId) = SegmentKey.decode(key)
                if !withPixels.insert(sourceId).inserted { stats.instancesSplit += 1 }
                let entry = meta.instances[sourceId]!
                instances.append(InstanceRecord(
                    id: instances.count, className: taxonomy.classes[classId].name, isCrowd: false, mask: mask,
                    sourceId: sourceId, occlusion: entry.occluded, truncation: entry.truncated,
                    amodalBBox: [entry.bbox2d.xmin * Double(width), entry.bbox2d.ymin * Double(height),
                                 (entry.bbox2d.xmax - entry.bbox2d.xmin) * Double(width),
                                 (entry.bbox2d.ymax - entry.bbox2d.ymin) * Double(height)]))
            }
        }
        stats.metaEntriesWithoutPixels = meta.instances.keys.filter { !withPixels.contains($0) }.count
        let record = ManifestRecord(id: sample.id, source: "synscapes", domain: .synthetic, split: sample.split,
                                    root: root, image: image, width: width, height: height,
                                    instances: instances, ignore: ignore)
        return (record, stats)
    }

    /// Per pixel: background, ignore, or (instance id, unified class), resolved
    /// by the harmonize rule: the class PNG's class where it maps to an instance
    /// class, the instance's meta class otherwise.
    private func segmentKeys(classes: Raster<UInt8>, instances: Raster<UInt8>, meta: SynscapesMeta,
                             classFile: String, instanceFile: String, metaFile: String) throws(FileError) -> [UInt64] {
        // Derived from the mapping, per class-PNG value: the key of a pixel without
        // an instance id, and the unified instance class the value names (or -1).
        var plainKey = [UInt64?](repeating: nil, count: 256)
        var instanceClass = [Int](repeating: -1, count: 256)
        for (id, row) in mapping.labels where (0..<256).contains(id) {
            switch row.target {
            case .background: plainKey[id] = SegmentKey.background
            case .ignore: plainKey[id] = SegmentKey.ignore
            case .unified(let classId) where taxonomy.classes[classId].hasInstances:
                instanceClass[id] = classId
                plainKey[id] = SegmentKey.ignore   // instance-class pixels with no instance id cannot be trained as instances
            case .unified:
                plainKey[id] = SegmentKey.background
            }
        }
        let count = classes.width * classes.height
        var keys = [UInt64](repeating: 0, count: count)
        var failure: FileError?
        // Instance ids come in long runs along a row: remember the last one's meta lookup.
        var lastInstance = -1
        var lastFallback: UInt64 = SegmentKey.background
        classes.samples.withUnsafeBufferPointer { label in
            instances.samples.withUnsafeBufferPointer { rgb in
                keys.withUnsafeMutableBufferPointer { out in
                    for index in 0..<count {
                        let pixelLabel = Int(label[index])
                        guard let plain = plainKey[pixelLabel] else {
                            failure = FileError(path: classFile, reason: "unknown class id \(pixelLabel) not in \(mapping.path)")
                            return
                        }
                        let instance = Int(rgb[3 * index]) | Int(rgb[3 * index + 1]) << 8 | Int(rgb[3 * index + 2]) << 16
                        if instance == 0 {
                            out[index] = plain
                            continue
                        }
                        if instance != lastInstance {
                            guard let entry = meta.instances[instance] else {
                                failure = FileError(path: instanceFile, reason: "instance id \(instance) is absent from \(metaFile)")
                                return
                            }
                            guard let row = mapping.instanceClasses[entry.classId] else {
                                failure = FileError(path: metaFile, reason: "instance \(instance) has unknown class id \(entry.classId), not in instance_classes of \(mapping.path)")
                                return
                            }
                            switch row.target {
                            case .background: lastFallback = SegmentKey.background
                            case .ignore: lastFallback = SegmentKey.ignore
                            case .unified(let classId):
                                lastFallback = taxonomy.classes[classId].hasInstances
                                    ? SegmentKey.encode(instance: instance, classId: classId) : SegmentKey.background
                            }
                            lastInstance = instance
                        }
                        let pixelClass = instanceClass[pixelLabel]
                        out[index] = pixelClass >= 0 ? SegmentKey.encode(instance: instance, classId: pixelClass) : lastFallback
                    }
                }
            }
        }
        if let failure { throw failure }
        return keys
    }
}

/// Packs a pixel's resolution into one sortable integer: 0 background,
/// 1 ignore, else (instance id << 16 | class id + 2), so that ascending keys
/// are ascending (source_id, class id) as the manifest orders instances.
enum SegmentKey {
    static let background: UInt64 = 0
    static let ignore: UInt64 = 1
    static func encode(instance: Int, classId: Int) -> UInt64 { UInt64(instance) << 16 | UInt64(classId + 2) }
    static func decode(_ key: UInt64) -> (instance: Int, classId: Int) { (Int(key >> 16), Int(key & 0xffff) - 2) }
}

/// The parts of meta/N.json a manifest needs.
struct SynscapesMeta {
    struct Box { var xmin, xmax, ymin, ymax: Double }
    struct Entry {
        var classId: Int
        var occluded: Double
        var truncated: Double
        var bbox2d: Box
    }

    var instances: [Int: Entry]

    init(path: String) throws(FileError) {
        let top: JSON
        do {
            top = try JSON.parse(try Files.read(path))
        } catch let error as FileError {
            throw FileError(path: path, reason: error.reason)
        } catch {
            throw FileError(path: path, reason: "malformed meta JSON: \(error)")
        }
        guard case .object(let classes)? = top["instance"]?["class"] else {
            throw FileError(path: path, reason: "meta JSON has no instance.class table")
        }
        /// A per-instance table, by instance id key. occluded, truncated and bbox2d are required:
        /// filter-instances judges an instance by them, and one written without them would pass
        /// its occlusion, truncation and visible-fraction rules unjudged, without a word.
        func table(_ name: String) throws(FileError) -> [String: JSON] {
            guard let value = top["instance"]?[name], !value.isNull else {
                throw FileError(path: path, reason: "meta JSON has no instance.\(name) table (filter-instances needs every instance's \(name) value)")
            }
            guard case .object(let pairs) = value else { throw FileError(path: path, reason: "instance.\(name) is not an object") }
            return Dictionary(pairs, uniquingKeysWith: { first, _ in first })
        }
        let instanceKeys = Set(classes.map(\.0))
        /// The entry of instance `key` in `table`; its absence names the keys that match no
        /// instance, where a damaged byte usually shows.
        func lookup(_ name: String, _ key: String, in table: [String: JSON]) throws(FileError) -> JSON {
            if let value = table[key] { return value }
            let stray = table.keys.filter { !instanceKeys.contains($0) }.sorted()
            let hint = stray.isEmpty ? "" : "; its keys that name no instance: \(stray.map { JSON.string($0).compact }.joined(separator: ", "))"
            throw FileError(path: path, reason: "instance.\(name) has no entry for instance \(key)\(hint)")
        }
        /// A renderer's occlusion or truncation: a number in [0, 1].
        func fraction(_ name: String, _ key: String, in table: [String: JSON]) throws(FileError) -> Double {
            let value = try lookup(name, key, in: table)
            guard let number = value.doubleValue, (0...1).contains(number) else {
                throw FileError(path: path, reason: "instance.\(name).\(key) is \(value.compact), not a number in [0, 1]")
            }
            return number
        }
        let occluded = try table("occluded"), truncated = try table("truncated"), boxes = try table("bbox2d")
        var entries: [Int: Entry] = [:]
        for (key, value) in classes {
            guard let id = Int(key), id > 0, let classId = value.intValue else {
                throw FileError(path: path, reason: "instance.class entry '\(key)' is not an instance id with an integer class")
            }
            let occlusion = try fraction("occluded", key, in: occluded)
            let truncation = try fraction("truncated", key, in: truncated)
            let box = try lookup("bbox2d", key, in: boxes)
            func coordinate(_ name: String) throws(FileError) -> Double {
                guard let number = box[name]?.doubleValue, number.isFinite else {
                    throw FileError(path: path, reason: "instance.bbox2d.\(key) lacks a numeric '\(name)'")
                }
                return number
            }
            entries[id] = Entry(classId: classId,
                                occluded: occlusion, truncated: truncation,
                                bbox2d: Box(xmin: try coordinate("xmin"), xmax: try coordinate("xmax"),
                                            ymin: try coordinate("ymin"), ymax: try coordinate("ymax")))
        }
        instances = entries
    }
}
