import Foundation
import SynmixCore

/// AP of one model on one val set, read back from its metrics.json.
public struct Score: Sendable {
    public var ap: Double
    public var ap50: Double
    public var classes: [(name: String, ap: Double)]
}

/// The final evaluations of one training run.
public struct RunResult: Sendable {
    public var name: String
    public var seed: UInt64
    public var real: Score
    public var synthetic: Score
    public var steps: Int
    public var seconds: Double

    init(folder: String, name: String, seed: UInt64) throws {
        let metrics = try JSON.parse(try Files.read("\(folder)/metrics.json"))
        func score(_ set: String) throws -> Score {
            guard let result = metrics["evaluations"]?.arrayValue?.last(where: { $0["name"]?.stringValue == set })?["result"] else {
                throw FileError(path: "\(folder)/metrics.json", reason: "no evaluation on \(set)")
            }
            let classes: [(String, Double)]
            if case .object(let pairs)? = result["classes"] {
                classes = pairs.map { ($0.0, $0.1["ap"]?.doubleValue ?? .nan) }
            } else {
                classes = []
            }
            return Score(ap: result["ap"]?.doubleValue ?? .nan, ap50: result["ap50"]?.doubleValue ?? .nan, classes: classes)
        }
        self.name = name
        self.seed = seed
        real = try score("real")
        synthetic = try score("synthetic")
        steps = metrics["steps"]?.arrayValue?.count ?? 0
        seconds = metrics["timing"]?["seconds"]?.doubleValue ?? 0
    }
}

/// Every number of the report, computed from the runs' files.
public struct DemoResults: Sendable {
    public var runs: [RunResult]
    public var syntheticCounts: [Int]
    /// filter-instances' report.md of the synthetic set, and its preview pictures.
    public var filterReport: String
    public var previews: [String]

    init(settings: DemoSettings, runs: [TrainingRun], filterReport folder: String) throws {
        self.runs = try runs.map { try RunResult(folder: $0.folder, name: $0.name, seed: $0.seed) }
        syntheticCounts = settings.syntheticCounts
        filterReport = (try? String(contentsOfFile: "\(folder)/report.md", encoding: .utf8)) ?? "(no filter report)"
        let previewFolder = "\(folder)/previews"
        previews = Files.list(previewFolder).filter { $0.hasSuffix(".png") }.sorted().map { "\(previewFolder)/\($0)" }
    }

    /// All seeds of a configuration.
    public func all(_ name: String) -> [RunResult] { runs.filter { $0.name == name } }

    /// Mean over seeds of a score.
    public func mean(_ name: String, _ value: (RunResult) -> Double) -> Double {
        let values = all(name).map(value)
        return values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
    }

    /// The largest difference between two seeds of one configuration (real val AP), if any ran twice.
    public var seedSpread: Double? {
        let spreads = Set(runs.map(\.name)).compactMap { name -> Double? in
            let values = all(name).map(\.real.ap)
            return values.count > 1 ? values.max()! - values.min()! : nil
        }
        return spreads.max()
    }

    public var largest: Int { syntheticCounts.last! }

    /// The published pattern, checked: each claim with whether it holds.
    public var checks: [(claim: String, holds: Bool)] {
        let realOnReal = mean("real-only") { $0.real.ap }, realOnSynthetic = mean("real-only") { $0.synthetic.ap }
        let synOnSyn = mean("synthetic-only") { $0.synthetic.ap }, synOnReal = mean("synthetic-only") { $0.real.ap }
        let mixed = mean("share-\(largest)") { $0.real.ap }
        let bestUniform = syntheticCounts.map { count in mean("uniform-\(count)") { $0.real.ap } }.max() ?? .nan
        return [
            (String(format: "in-domain above cross-domain on real val (real-only %.1f > synthetic-only %.1f)", 100 * realOnReal, 100 * synOnReal),
             realOnReal > synOnReal),
            (String(format: "in-domain above cross-domain on synthetic val (synthetic-only %.1f > real-only %.1f)", 100 * synOnSyn, 100 * realOnSynthetic),
             synOnSyn > realOnSynthetic),
            (String(format: "mixed training (+%d synthetic, 50 %% real per batch) above real-only on real val (%.1f > %.1f)%@",
                    largest, 100 * mixed, 100 * realOnReal, margin(mixed - realOnReal)), mixed > realOnReal),
            (String(format: "uniformly mixed shards (the published protocol) above real-only on real val at some count (best %.1f > %.1f)%@",
                    100 * bestUniform, 100 * realOnReal, margin(bestUniform - realOnReal)), bestUniform > realOnReal),
        ]
    }

    /// Whether a difference exceeds the seed spread, said in words.
    func margin(_ difference: Double) -> String {
        guard let spread = seedSpread, difference > 0 else { return "" }
        return difference > spread
            ? String(format: "; the margin %.1f exceeds the seed spread %.1f", 100 * difference, 100 * spread)
            : String(format: "; but the margin %.1f is within the seed spread %.1f, so it may be noise", 100 * difference, 100 * spread)
    }
}
