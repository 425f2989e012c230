import CityscapesLabels
import SynmixCore
import SynmixFormats

/// Cityscapes in its original layout :
/// `leftImg8bit/SPLIT/CITY/CITY_SSSSSS_FFFFFF_leftImg8bit.png` and
/// `gtFine/SPLIT/CITY/CITY_SSSSSS_FFFFFF_gtFine_instanceIds.png` (16-bit gray:
/// v >= 1000 is instance v % 1000 of label v / 1000, v < 1000 a plain label id,
/// a group region when that label has instances).
public struct CityscapesReader: DatasetReader {
    /// cityscapesScripts' label table (the license plate, -1, is never drawn in the PNGs).
    public static let sourceLabelIds = CityscapesLabel.pixelIds
    public static let sourceInstanceClassIds: [Int] = []
    static let imageSuffix = "_leftImg8bit.png"
    static let labelSuffix = "_gtFine_instanceIds.png"

    public let root: String
    public let split: SplitSelection
    public let taxonomy: Taxonomy
    public let mapping: LabelMapping
    public let verifyImages: Bool
    public let maxPixels: Int

    public init(root: String, split: SplitSelection, taxonomy: Taxonomy, mapping: LabelMapping,
                verifyImages: Bool = false, maxPixels: Int = PNGDecodeOptions.defaultMaxPixels) {
        self.root = root
        self.split = split
        self.taxonomy = taxonomy
        self.mapping = mapping
        self.verifyImages = verifyImages
        self.maxPixels = maxPixels
    }

    private func imagePath(_ split: Split, _ city: String, _ base: String) -> String {
        "leftImg8bit/\(split.rawValue)/\(city)/\(base)\(Self.imageSuffix)"
    }

    private func labelPath(_ split: Split, _ city: String, _ base: String) -> String {
        "\(root)/gtFine/\(split.rawValue)/\(city)/\(base)\(Self.labelSuffix)"
    }

    public func discover() throws -> [SampleLocation] {
        guard Files.isDirectory("\(root)/leftImg8bit") || Files.isDirectory("\(root)/gtFine") else {
            throw HarmonizeError.badRoot(root, "no leftImg8bit/ or gtFine/ folder: not a Cityscapes root")
        }
        var samples: [SampleLocation] = []
        for split in split.splits {
            let folder = split.rawValue
            let cities = Set(Files.list("\(root)/leftImg8bit/\(folder)") + Files.list("\(root)/gtFine/\(folder)")).sorted()
            for city in cities {
                let images = Set(Files.list("\(root)/leftImg8bit/\(folder)/\(city)").compactMap { $0.dropSuffix(Self.imageSuffix) })
                let labels = Set(Files.list("\(root)/gtFine/\(folder)/\(city)").compactMap { $0.dropSuffix(Self.labelSuffix) })
                for base in images.union(labels) {
                    var sample = SampleLocation(id: "cityscapes/\(folder)/\(city)/\(base)", split: split,
                                                primaryFile: labelPath(split, city, base))
                    if !labels.contains(base) {
                        sample.problem = FileError(path: "\(root)/\(imagePath(split, city, base))",
                                                     reason: "image without its label file \(labelPath(split, city, base))")
                    } else if !images.contains(base) {
                        sample.problem = FileError(path: sample.primaryFile,
                                                     reason: "label file without its image \(root)/\(imagePath(split, city, base))")
                    }
                    samples.append(sample)
                }
            }
        }
        return samples.sorted { $0.id < $1.id }
    }

    public func read(_ sample: SampleLocation) throws(FileError) -> (ManifestRecord, SampleStats) {
        if let problem = sample.problem { throw problem }
        let parts = sample.id.split(separator: "/")   // cityscapes/SPLIT/CITY/BASE
        let (city, base) = (String(parts[2]), String(parts[3]))
        let image = imagePath(sample.split, city, base)
        let labelFile = sample.primaryFile

        let pixels = try readPNG(labelFile, options: PNGDecodeOptions(maxPixels: maxPixels))
        guard case .sixteenBit(let ids) = pixels, ids.channels == 1 else {
            throw FileError(path: labelFile, reason: "instanceIds PNG must be 16-bit grayscale, found \(pixels.bitDepth)-bit with \(pixels.channels) channel(s)")
        }
        let header = try checkImagePNG("\(root)/\(image)", verify: verifyImages, maxPixels: maxPixels)
        guard header.width == ids.width, header.height == ids.height else {
            throw FileError(path: labelFile, reason: "label is \(ids.width)x\(ids.height) but its image is \(header.width)x\(header.height)")
        }

        let regions = ids.samples.withUnsafeBufferPointer {
            RegionEncoder.encode($0, height: ids.height, width: ids.width)
        }
        var instances: [InstanceRecord] = []
        var ignored: [RLE] = []
        for (value, mask) in regions {
            let labelId = value >= 1000 ? Int(value) / 1000 : Int(value)
            guard let target = mapping.target(ofLabel: labelId) else {
                throw FileError(path: labelFile, reason: "unknown label id \(labelId) (pixel value \(value)) not in \(mapping.path)")
            }
            switch target {
            case .ignore: ignored.append(mask)
            case .background: break
            case .unified(let classId):
                let unified = taxonomy.classes[classId]
                guard unified.hasInstances else { break }
                instances.append(InstanceRecord(id: instances.count, className: unified.name, isCrowd: value < 1000,
                                                mask: mask, sourceId: Int(value)))
            }
        }
        let ignore = ignored.isEmpty ? nil : RLE.union(ignored, height: ids.height, width: ids.width)
        let record = ManifestRecord(id: sample.id, source: "cityscapes", domain: .real, split: sample.split,
                                    root: root, image: image, width: ids.width, height: ids.height,
                                    instances: instances, ignore: ignore)
        return (record, SampleStats())
    }
}

extension String {
    func dropSuffix(_ suffix: String) -> String? {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : nil
    }
}
