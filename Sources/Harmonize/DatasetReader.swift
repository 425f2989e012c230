import SynmixCore
import SynmixFormats

/// One image of a source dataset, found on disk but not read yet.
public struct SampleLocation: Sendable {
    public var id: String          // the manifest id
    public var split: Split
    /// The file that names this sample in an error report (its label file where it has one).
    public var primaryFile: String
    /// Set when discovery already knows the sample is incomplete (e.g. an image without labels).
    public var problem: FileError?
}

/// What reading one sample produced besides its record, for the summary.
public struct SampleStats: Sendable {
    public var instancesSplit = 0           // source instances that became more than one instance
    public var metaEntriesWithoutPixels = 0 // Synscapes meta entries that have no pixel in the image
    public init() {}
}

/// The only code that knows a dataset's on-disk layout. Everything after a
/// reader sees manifest records.
public protocol DatasetReader: Sendable {
    /// Every source label id the dataset can contain: a mapping must map each one.
    static var sourceLabelIds: [Int] { get }
    /// Every per-instance class id (Synscapes' meta classes), if the dataset has such a vocabulary.
    static var sourceInstanceClassIds: [Int] { get }
    /// Every sample under the root, sorted by id, with its split.
    func discover() throws -> [SampleLocation]
    /// Reads and harmonizes one sample.
    func read(_ sample: SampleLocation) throws(FileError) -> (ManifestRecord, SampleStats)
}

/// Reads a label PNG, turning every failure into a FileError naming the file.
func readPNG(_ path: String, options: PNGDecodeOptions) throws(FileError) -> PNGPixels {
    do {
        return try PNGCodec.decode(try Files.read(path), path: path, options: options)
    } catch let error as ImageError {
        switch error {
        case .corrupt(_, let reason), .unexpectedLayout(_, let reason), .encodeFailed(let reason):
            throw FileError(path: path, reason: "corrupt PNG: \(reason)")
        case .tooLarge(_, let width, let height, let budget):
            throw FileError(path: path, reason: "image is \(width)x\(height), above the pixel budget of \(budget)")
        }
    } catch let error as FileError {
        throw FileError(path: path, reason: error.reason)
    } catch {
        throw FileError(path: path, reason: "\(error)")
    }
}

/// Reads only the header of an image PNG (its size), or decodes it fully when asked to verify.
func checkImagePNG(_ path: String, verify: Bool, maxPixels: Int) throws(FileError) -> PNGHeader {
    if verify {
        let pixels = try readPNG(path, options: PNGDecodeOptions(maxPixels: maxPixels, to8Bit: true))
        return PNGHeader(width: pixels.width, height: pixels.height, bitDepth: pixels.bitDepth, colorType: 2)
    }
    do {
        let prefix = try Files.readPrefix(path, count: 33)
        return try PNGCodec.header(of: prefix, path: path)
    } catch let error as FileError {
        throw FileError(path: path, reason: error.reason)
    } catch {
        throw FileError(path: path, reason: "corrupt PNG: not a PNG file")
    }
}
