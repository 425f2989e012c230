import Foundation
import SynmixCore
import SynmixFormats

/// COCO `instances.json` from a manifest or from shards, as pycocotools' `COCO`,
/// Detectron2's `register_coco_instances` and FiftyOne load it: one image per
/// record, one annotation per instance with its COCO RLE mask, area, box and
/// crowd flag, the taxonomy's instance classes as categories (id = taxonomy id + 1,
/// COCO's ids start at 1). COCO has no ignore region: it is left out.
///
/// Written in one streaming pass (annotations through a scratch file), so memory holds
/// one record, not the dataset; the file appears under its final name when complete.
public enum CocoExport {
    public enum Source: Sendable {
        /// `file_name` is the image's absolute path.
        case manifest(String)
        /// Images are extracted to `OUT/images/KEY.png|jpg`; `file_name` is relative to OUT.
        case shards([String])
    }

    public struct Result: Sendable {
        public var images: Int
        public var annotations: Int
        /// Samples (or manifest lines) reported and left out, each with its file and reason.
        public var skipped: [FileError]
        /// Instances with an empty mask (pack-mix's downscaling can shrink a small one to nothing):
        /// left out of the annotations, since COCO's evaluation would count them as objects nobody can find.
        public var emptyMasks: Int
        public var path: String
    }

    public static let fileName = "instances.json"

    /// The longest sample key used as a file name: `KEY.png.tmp` must stay under NAME_MAX (255 bytes).
    public static let maxKeyLength = 200

    public static func export(_ source: Source, taxonomy: Taxonomy, to out: String) throws -> Result {
        try checkOutput(out, source: source)
        try Files.createDirectory(out)
        let categories = taxonomy.classes.filter(\.hasInstances)
        let categoryIds = Dictionary(uniqueKeysWithValues: categories.map { ($0.name, $0.id + 1) })
        let file = try AtomicFile("\(out)/\(fileName)")
        try file.write("{\"info\": " + JSON.object([("description", .string("synmix export")), ("version", .string(synmixVersion))]).compact)
        try file.write(",\n\"categories\": [" + categories.map {
            JSON.object([("id", .int($0.id + 1)), ("name", .string($0.name)), ("supercategory", .string("synmix"))]).compact
        }.joined(separator: ", ") + "]")

        // One pass over the records: images go to the file, annotations to a scratch file (COCO puts the
        // whole images list first) that is appended at the end. forEachRecord has already refused the
        // records that cannot be exported (reported, never half-written).
        let annotations = try AtomicFile("\(out)/\(fileName).annotations")   // never committed: removed when done
        var skipped: [FileError] = []
        var imageCount = 0, annotationCount = 0, emptyMasks = 0
        try file.write(",\n\"images\": [")
        try forEachRecord(source, taxonomy: taxonomy, out: out, report: { skipped.append($0) }) { record, fileName in
            imageCount += 1
            try file.write((imageCount > 1 ? ",\n" : "\n") + JSON.object([
                ("id", .int(imageCount)), ("file_name", .string(fileName)), ("width", .int(record.width)),
                ("height", .int(record.height)), ("synmix_id", .string(record.id)),
            ]).compact)
            for instance in record.instances {
                guard instance.area > 0 else { emptyMasks += 1; continue }
                annotationCount += 1
                try annotations.write((annotationCount > 1 ? ",\n" : "\n") + JSON.object([
                    ("id", .int(annotationCount)), ("image_id", .int(imageCount)), ("category_id", .int(categoryIds[instance.className]!)),
                    ("segmentation", instance.mask.json), ("area", .int(instance.area)),
                    ("bbox", .array(instance.bbox.map { .int($0) })), ("iscrowd", .int(instance.isCrowd ? 1 : 0)),
                ]).compact)
            }
        }
        try file.write("],\n\"annotations\": [")
        try annotations.flush()
        try Files.copy(annotations.temporaryPath, into: file)
        try file.write("]}\n")
        try file.commit()
        return Result(images: imageCount, annotations: annotationCount, skipped: skipped, emptyMasks: emptyMasks,
                      path: "\(out)/\(fileName)")
    }

    /// Refuses an output that would overwrite something: an existing instances.json (an earlier export,
    /// or a file someone put there), an --out that is a file, or the manifest's own folder.
    static func checkOutput(_ out: String, source: Source) throws {
        var info = stat()
        if lstat(out, &info) == 0, (info.st_mode & S_IFMT) != S_IFDIR {
            throw FileError(path: out, reason: "--out exists and is not a folder")
        }
        if lstat("\(out)/\(fileName)", &info) == 0 {
            throw FileError(path: "\(out)/\(fileName)", reason: "already exists: pack-mix coco never overwrites a file; remove it or choose another --out")
        }
        if case .manifest(let manifest) = source { try Files.checkOutput(out, isNotInput: manifest) }
    }

    /// Why a sample key cannot name the file its image is extracted to, or nil. pack-mix writes keys as
    /// `Files.safeName` of the record id (ASCII letters, digits, '_' and '-'), so anything else (a '/',
    /// "..", a NUL, an empty key) is a forged or damaged shard: following it could write outside --out.
    static func unusableKey(_ key: String) -> String? {
        if key.isEmpty { return "the key is empty" }
        if Files.safeName(key) != key { return "the key '\(key)' is not a plain file name (only A-Z, a-z, 0-9, '_' and '-')" }
        if key.utf8.count > maxKeyLength { return "the key is \(key.utf8.count) bytes long, more than the \(maxKeyLength) a file name may take" }
        return nil
    }

    /// Every exportable record of the source with the image's `file_name`; the others are reported: a
    /// record whose classes are not the taxonomy's instance classes, an id (or key) met before (two
    /// COCO images would share one file), and from shards a key that is not a plain file name. The
    /// checks come before the image is written, so a refused sample writes nothing.
    static func forEachRecord(_ source: Source, taxonomy: Taxonomy, out: String, report: (FileError) -> Void,
                              _ body: (ExportedRecord, String) throws -> Void) throws {
        var firstSeen: [String: String] = [:]   // record id or sample key -> where it was first met
        /// Nil when `name` is new (and remembers it); otherwise where it was met first.
        func earlier(_ name: String, at place: String) -> String? {
            if let first = firstSeen[name] { return first }
            firstSeen[name] = place
            return nil
        }
        switch source {
        case .manifest(let path):
            let reader = try ManifestReader(ManifestReader.file(path))
            while let line = reader.nextLine() {
                do {
                    let record = try ManifestRecord(jsonLine: line, file: reader.path, line: reader.lineNumber)
                    let place = "line \(reader.lineNumber)"
                    if let problem = taxonomy.foreignInstance(in: record.instances) {
                        report(FileError(path: reader.path, reason: "\(place): record \(record.id): \(problem)"))
                    } else if let first = earlier("id " + record.id, at: place) {
                        report(FileError(path: reader.path, reason: "\(place): record id \(record.id) repeats the one at \(first); skipped"))
                    } else {
                        try body(ExportedRecord(id: record.id, width: record.width, height: record.height, instances: record.instances),
                                 "\(Files.absolute(record.root))/\(record.image)")
                    }
                } catch let error as ManifestError {
                    report(FileError(path: error.file, reason: "line \(error.line): \(error.reason)"))
                }
            }
        case .shards(let shards):
            try Files.createDirectory("\(out)/images")
            try ShardReader.forEachSample(in: shards, report: report) { sample in
                func skip(_ reason: String) -> Bool {
                    report(FileError(path: sample.shard, reason: "sample \(sample.key.debugDescription): \(reason); skipped"))
                    return true
                }
                if let problem = unusableKey(sample.key) { return skip(problem) }
                let record: SampleRecord
                do { record = try SampleRecord(bytes: sample.json, file: "\(sample.shard):\(sample.key).json") } catch {
                    return skip("\(error)")
                }
                guard record.key == sample.key else { return skip("its json names the key '\(record.key)', its members '\(sample.key)'") }
                guard record.imageFormat.rawValue == sample.imageFormat else {
                    return skip("its json says image_format \(record.imageFormat.rawValue), its image member is .\(sample.imageFormat)")
                }
                if let problem = taxonomy.foreignInstance(in: record.instances) { return skip(problem) }
                do {
                    let size: (width: Int, height: Int)
                    if record.imageFormat == .png {
                        let header = try PNGCodec.header(of: sample.image, path: sample.shard)
                        size = (header.width, header.height)
                    } else {
                        size = try JPEGCodec.declaredSize(of: sample.image, path: sample.shard)
                    }
                    guard size == (record.width, record.height) else {
                        return skip("its image is \(size.width)x\(size.height), its json and masks say \(record.width)x\(record.height)")
                    }
                } catch { return skip("its image member: \(error)") }
                if let first = earlier("key " + sample.key, at: sample.shard) { return skip("the key repeats a sample of \(first)") }
                if let first = earlier("id " + record.id, at: "\(sample.shard) (sample \(sample.key))") {
                    return skip("record id \(record.id) repeats the one in \(first)")
                }
                let fileName = "images/\(sample.key).\(record.imageFormat.rawValue)"
                try Files.writeAtomically(sample.image, to: "\(out)/\(fileName)")
                try body(ExportedRecord(id: record.id, width: record.width, height: record.height, instances: record.instances), fileName)
                return true
            }
        }
    }

    struct ExportedRecord {
        var id: String
        var width: Int
        var height: Int
        var instances: [InstanceRecord]
    }
}
