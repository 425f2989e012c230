import Foundation
import SynmixCore
import SynmixFormats

/// How many records an input contributes.
public enum SampleCount: Sendable, Equatable, CustomStringConvertible {
    case all
    case exactly(Int)
    /// This input makes up the given fraction of the final set (of all samples).
    case fraction(Double)

    /// `all` or a whole number >= 0, as the command line writes a count (the inverse of `description`).
    public init?(_ text: String) {
        if text == "all" {
            self = .all
        } else if let n = Int(text), n >= 0 {
            self = .exactly(n)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .all: "all"
        case .exactly(let n): "\(n)"
        case .fraction(let f): "fraction \(f)"
        }
    }
}

public struct PackInput: Sendable {
    public var name: String       // "real", "synthetic", or any NAME of --input NAME=DIR
    public var manifest: String   // a folder holding manifest.jsonl, or the file
    public var count: SampleCount
    /// How many records an input gives when no count is named: all of them.
    public static let defaultCount = SampleCount.all

    public init(name: String, manifest: String, count: SampleCount = defaultCount) {
        self.name = name
        self.manifest = manifest
        self.count = count
    }
}

public struct PackError: Error, CustomStringConvertible, Equatable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// A record chosen for the mix: where its manifest line is.
struct PlannedSample: Sendable {
    var input: Int
    var id: String
    var domain: Domain
    var offset: Int
    var length: Int
}

/// Which records go into the mix and in which order, fixed by the seed:
/// each input's records are put in one seeded random order and the first N
/// taken (so growing N with the same seed keeps the smaller set: nested
/// subsets), then all chosen samples are shuffled together.
struct MixPlan {
    struct InputSummary {
        var name: String
        var path: String
        var sha256: String
        var records: Int        // lines in the manifest
        var eligible: Int       // in the requested split
        var requested: String
        var chosen: Int
    }

    var inputs: [InputSummary]
    var order: [PlannedSample]
    /// Lines that are not a record (reported and skipped; the others are planned as usual).
    var rejected: [FileError]

    static func build(_ inputs: [PackInput], split: SplitSelection, seed: UInt64) throws -> MixPlan {
        guard !inputs.isEmpty else { throw PackError("no inputs: give --real/--synthetic or --input NAME=DIR") }
        var summaries: [InputSummary] = []
        var eligibleByInput: [[PlannedSample]] = []
        var rejected: [FileError] = []
        for (index, input) in inputs.enumerated() {
            let path = ManifestReader.file(input.manifest)
            guard Files.exists(path) else { throw PackError("\(path): no manifest for input '\(input.name)'") }
            let reader = try ManifestReader(path)
            var eligible: [PlannedSample] = []
            var lines = 0
            while let line = reader.nextLine() {
                lines += 1
                switch ManifestRecord.header(ofLine: line) {
                case .failure(let problem):
                    rejected.append(FileError(path: path, reason: "line \(reader.lineNumber): \(problem)"))
                case .success(let header) where split.includes(header.split):
                    eligible.append(PlannedSample(input: index, id: header.id, domain: header.domain, offset: reader.lineOffset,
                                                  length: line.utf8.count))
                case .success:
                    break
                }
            }
            eligible.sort { $0.id < $1.id }
            eligibleByInput.append(eligible)
            summaries.append(InputSummary(name: input.name, path: Files.absolute(path), sha256: try sha256(ofFile: path),
                                          records: lines, eligible: eligible.count, requested: "", chosen: 0))
        }
        // Absolute counts first; fractions are of the final total.
        var counts = [Int](repeating: 0, count: inputs.count)
        var fixedTotal = 0, fractionTotal = 0.0
        for (index, input) in inputs.enumerated() {
            switch input.count {
            case .all: counts[index] = eligibleByInput[index].count; fixedTotal += counts[index]
            case .exactly(let n):
                guard n >= 0 else { throw PackError("input '\(input.name)': a count cannot be negative") }
                counts[index] = n
                fixedTotal += n
            case .fraction(let f):
                guard (0..<1).contains(f) else { throw PackError("input '\(input.name)': a fraction must be within [0, 1)") }
                fractionTotal += f
            }
        }
        guard fractionTotal < 1 else { throw PackError("the fractions add up to \(fractionTotal): they must leave room for the other inputs") }
        for (index, input) in inputs.enumerated() {
            if case .fraction(let f) = input.count {
                counts[index] = Int((Double(fixedTotal) * f / (1 - fractionTotal)).rounded())
            }
            guard counts[index] <= eligibleByInput[index].count else {
                throw PackError("input '\(input.name)' has \(eligibleByInput[index].count) records in split '\(split)', \(counts[index]) were asked for")
            }
            summaries[index].requested = input.count.description
            summaries[index].chosen = counts[index]
        }
        var order: [PlannedSample] = []
        for (index, input) in inputs.enumerated() {
            var random = SplitMix64(seed: Seed.derive(seed, "input-order:\(input.name)"))
            var candidates = eligibleByInput[index]
            random.shuffle(&candidates)
            order += candidates.prefix(counts[index])
        }
        var random = SplitMix64(seed: Seed.derive(seed, "mix-order"))
        random.shuffle(&order)
        // A sample's shard key is its id made safe: two ids that differ only outside [A-Za-z0-9_-]
        // would share one, and webdataset would merge the two samples. The later one is skipped.
        var keys: [String: String] = [:]
        order = order.filter { sample in
            let key = Files.safeName(sample.id)
            if let first = keys[key] {
                rejected.append(FileError(path: summaries[sample.input].path,
                                          reason: "record \(sample.id) would have the shard key \(key) of record \(first); skipped"))
                return false
            }
            keys[key] = sample.id
            return true
        }
        guard !order.isEmpty else { throw PackError("the plan selects no sample (split '\(split)')") }
        return MixPlan(inputs: summaries, order: order, rejected: rejected)
    }

    static func sha256(ofFile path: String) throws -> String {
        let handle = try Files.openRegularStream(path)
        defer { fclose(handle) }
        let hasher = SHA256Hasher()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = fread(&buffer, 1, buffer.count, handle)
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return hasher.finalize()
    }
}
