import Foundation
import SynmixCore
import SynmixFormats

public struct FilterOptions: Sendable {
    public var input: String               // a folder with manifest.jsonl (or the file itself)
    public var out: String
    public var thresholdsPath: String
    public var taxonomyPath: String
    public var overrides: [FilterRule: Double] = [:]
    public var policy: RemovalPolicy = .ignore
    public var calibrateFrom: String?      // a real manifest folder (or file)
    public var calibrationPercentile = 5.0
    public var previews = 0
    public var jobs = ProcessInfo.processInfo.activeProcessorCount

    /// Every optional setting at its default (the required ones empty): what `filter-instances --help` shows.
    public static var defaults: FilterOptions { FilterOptions(input: "", out: "", thresholdsPath: "", taxonomyPath: "") }

    public init(input: String, out: String, thresholdsPath: String, taxonomyPath: String) {
        self.input = input
        self.out = out
        self.thresholdsPath = thresholdsPath
        self.taxonomyPath = taxonomyPath
    }
}

public struct FilterResult: Sendable {
    public var records: Int
    public var removed: Int
    public var kept: Int
    public var errors: [ManifestError]
    public var headline: String
    public var previews: [String]
}

/// `filter-instances`: streams a manifest, removes the instances the
/// thresholds reject, and writes manifest.jsonl, thresholds.yaml,
/// report.json, report.md, errors.jsonl and optional preview PNGs.
public enum FilterStage {
    /// Records parsed and filtered at once per job: a record is a few kB of run lengths.
    static let recordsInFlightPerJob = 64


    /// `progress` gets the number of records read so far (after each parallel batch).
    public static func run(_ options: FilterOptions, progress: (Int) -> Void = { _ in }) throws -> FilterResult {
        let taxonomy = try Taxonomy(contentsOf: options.taxonomyPath)
        var thresholds = try ThresholdTable(contentsOf: options.thresholdsPath, taxonomy: taxonomy)
        try thresholds.override(options.overrides)
        let inputPath = ManifestReader.file(options.input)
        guard Files.exists(inputPath) else { throw FileError(path: inputPath, reason: "no manifest here") }
        try Files.checkOutput(options.out, isNotInput: inputPath)

        let header = try calibrate(&thresholds, options: options, taxonomy: taxonomy, inputPath: inputPath)
        let thresholdsYAML = thresholds.yaml(taxonomy: taxonomy, header: header)

        try Files.createDirectory(options.out)
        let filter = InstanceFilter(thresholds: thresholds, policy: options.policy)
        let output = try AtomicFile("\(options.out)/\(ManifestReader.fileName)")
        var report = FilterReport(taxonomy: taxonomy)
        var errors: [ManifestError] = []
        var candidates: [(removed: Int, input: ManifestRecord, outcome: FilterOutcome)] = []
        // Lines are read in order, parsed and filtered in parallel batches, and
        // written in order: memory is bounded by the batch, output independent of --jobs.
        let reader = try ManifestReader(inputPath)
        try orderedParallelMap(jobs: options.jobs, perJob: Self.recordsInFlightPerJob, next: { () -> (line: Int, text: Substring)? in
            reader.nextLine().map { (reader.lineNumber, $0) }
        }, { item -> Result<(ManifestRecord, FilterOutcome, String), ManifestError> in
            do {
                let record = try ManifestRecord(jsonLine: item.text, file: inputPath, line: item.line)
                if let problem = taxonomy.foreignInstance(in: record.instances) {
                    throw ManifestError(file: inputPath, line: item.line, reason: problem)
                }
                let outcome = filter.apply(record)
                return .success((record, outcome, outcome.record.jsonLine))
            } catch let error as ManifestError {
                return .failure(error)
            } catch {
                return .failure(ManifestError(file: inputPath, line: item.line, reason: "\(error)"))
            }
        }, consume: { result in
            switch result {
            case .failure(let error):
                errors.append(error)
            case .success(let (record, outcome, line)):
                try output.write(line + "\n")
                report.add(record, outcome)
                // Keep the records with the most removals for previews (at most K in memory).
                if options.previews > 0 && !outcome.removed.isEmpty {
                    candidates.append((outcome.removed.count, record, outcome))
                    candidates.sort { ($0.removed, $1.input.id) > ($1.removed, $0.input.id) }
                    if candidates.count > options.previews { candidates.removeLast() }
                }
            }
        }, afterBatch: progress)

        let previews = try writePreviews(candidates.map { ($0.input, $0.outcome) }, to: "\(options.out)/previews", taxonomy: taxonomy,
                                         asked: options.previews > 0)
        let errorLines = errors.map { $0.json.compact + "\n" }
        try Files.writeAtomically(errorLines.joined(), to: "\(options.out)/errors.jsonl")
        try Files.writeAtomically(thresholdsYAML, to: "\(options.out)/thresholds.yaml")
        let input = Files.absolute(inputPath)
        try Files.writeAtomically(report.file(policy: options.policy, thresholds: thresholds, input: input, errors: errors.count).json.pretty,
                                  to: "\(options.out)/\(FilterReportFile.fileName)")
        try Files.writeAtomically(report.markdown(policy: options.policy, thresholds: thresholdsYAML, input: input, errors: errors.count),
                                  to: "\(options.out)/report.md")
        try output.commit()
        let totals = report.totals
        return FilterResult(records: report.records, removed: totals.removed, kept: totals.kept, errors: errors,
                            headline: report.headline, previews: previews)
    }

    /// With `--calibrate-from`, sets each class's min_area and min_height from the real manifest's annotations;
    /// the comment thresholds.yaml starts with, saying where every threshold came from.
    static func calibrate(_ thresholds: inout ThresholdTable, options: FilterOptions, taxonomy: Taxonomy, inputPath: String) throws -> String {
        var header = "Thresholds applied by filter-instances (synmix \(synmixVersion)).\n"
        header += "Base: \(Files.absolute(options.thresholdsPath))"
        if !options.overrides.isEmpty {
            header += "\nCommand line: " + options.overrides.keys.sorted().map { "--\($0.rawValue.replacingOccurrences(of: "_", with: "-")) \(options.overrides[$0]!)" }.joined(separator: " ")
        }
        if let calibrateFrom = options.calibrateFrom {
            // Calibrated thresholds are in the filtered manifest's pixels: take its first record's size.
            let calibration = try Calibration(manifest: ManifestReader.file(calibrateFrom), percentile: options.calibrationPercentile)
            let size = try firstRecordSize(inputPath)
            thresholds = calibration.apply(to: thresholds, width: size.width, height: size.height)
            header += "\nmin_area and min_height per class: the \(calibration.percentile.description)th percentile (nearest rank) of the non-crowd instances in"
            header += "\n\(Files.absolute(ManifestReader.file(calibrateFrom))), relative to image size, scaled to \(size.width)x\(size.height):"
            for name in taxonomy.classes.map(\.name) where calibration.perClass[name] != nil {
                let s = calibration.perClass[name]!
                header += String(format: "\n  %@: %d instances, area %.3g of the image, height %.3g of the image", name, s.instances, s.areaFraction, s.heightFraction)
            }
        }
        return header
    }

    /// Overlays of the records with the most removals (`--preview K`), in previews/; their paths.
    static func writePreviews(_ records: [(input: ManifestRecord, outcome: FilterOutcome)], to folder: String, taxonomy: Taxonomy,
                              asked: Bool) throws -> [String] {
        guard asked else { return [] }
        try Files.createDirectory(folder)
        return try records.map { input, outcome in
            let path = "\(folder)/\(Files.safeName(input.id)).png"
            try Preview.render(input: input, outcome: outcome, taxonomy: taxonomy, to: path)
            return path
        }
    }

    private static func firstRecordSize(_ path: String) throws -> (width: Int, height: Int) {
        let reader = try ManifestReader(path)
        while true {
            do {
                guard let record = try reader.nextRecord() else { break }
                return (record.width, record.height)
            } catch is ManifestError {
                continue
            }
        }
        throw FileError(path: path, reason: "no readable record to size the calibrated thresholds")
    }
}
