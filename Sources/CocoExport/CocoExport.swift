import Foundation
import ShardData
import SynmixCore

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
        public var skipped: [FileError]
        public var path: String
    }

    public static let fileName = "instances.json"

    public static func export(_ source: Source, taxonomy: Taxonomy, to out: String) throws -> Result {
        try Files.createDirectory(out)
        let categories = taxonomy.classes.filter(\.hasInstances)
        let categoryIds = Dictionary(uniqueKeysWithValues: categories.map { ($0.name, $0.id + 1) })
        let file = try AtomicFile("\(out)/\(fileName)")
        try file.write("{\"info\": " + JSON.object([("description", .string("synmix export")), ("version", .string(synmixVersion))]).compact)
        try file.write(",\n\"categories\": [" + categories.map {
            JSON.object([("id", .int($0.id + 1)), ("name", .string($0.name)), ("supercategory", .string("synmix"))]).compact
        }.joined(separator: ", ") + "]")

        // One pass over the records: images go to the file, annotations to a scratch file (COCO puts the
        // whole images list first) that is appended at the end. Records whose classes are not the
        // taxonomy's are skipped.
        let annotations = try AtomicFile("\(out)/\(fileName).annotations")   // never committed: removed when done
        var skipped: [FileError] = []
        var imageCount = 0, annotationCount = 0
        try file.write(",\n\"images\": [")
        try forEachRecord(source, out: out, report: { skipped.append($0) }) { record, fileName in
            if let problem = taxonomy.foreignInstance(in: record.instances) {
                skipped.append(FileError(path: record.id, reason: problem))
                return
            }
            imageCount += 1
            try file.write((imageCount > 1 ? ",\n" : "\n") + JSON.object([
                ("id", .int(imageCount)), ("file_name", .string(fileName)), ("width", .int(record.width)),
                ("height", .int(record.height)), ("synmix_id", .string(record.id)),
            ]).compact)
            for instance in record.instances {
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
        return Result(images: imageCount, annotations: annotationCount, skipped: skipped, path: "\(out)/\(fileName)")
    }

    /// Every record of the source as (width, height, instances) with the image's `file_name`.
    static func forEachRecord(_ source: Source, out: String, report: (FileError) -> Void,
                              _ body: (ExportedRecord, String) throws -> Void) throws {
        switch source {
        case .manifest(let path):
            let reader = try ManifestReader(ManifestReader.file(path))
            while let line = reader.nextLine() {
                do {
                    let record = try ManifestRecord(jsonLine: line, file: reader.path, line: reader.lineNumber)
                    try body(ExportedRecord(id: record.id, width: record.width, height: record.height, instances: record.instances),
                             "\(Files.absolute(record.root))/\(record.image)")
                } catch let error as ManifestError {
                    report(FileError(path: error.file, reason: "line \(error.line): \(error.reason)"))
                }
            }
        case .shards(let shards):
            try Files.createDirectory("\(out)/images")
            try ShardStream(shards: shards, bufferSize: 1, seed: 0, shuffle: false).forEach(epoch: 0, report: report) { sample in
                let record: SampleRecord
                do { record = try SampleRecord(bytes: sample.json, file: "\(sample.shard):\(sample.key).json") } catch {
                    report(FileError(path: sample.shard, reason: "sample \(sample.key): \(error)"))
                    return true
                }
                let fileName = "images/\(record.key).\(record.imageFormat.rawValue)"
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
