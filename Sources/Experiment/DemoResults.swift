import Foundation
import Evaluation
import SynmixCore
import TrainShards

/// The final evaluations of one training run.
public struct RunResult: Sendable {
    public var name: String
    public var seed: UInt64
    /// AP of the model on each val set, read back from its metrics.json.
    public var real: EvaluationSummary
    public var synthetic: EvaluationSummary
    public var steps: Int
    public var seconds: Double
    /// Training images per domain.
    public var realImages: Int
    public var syntheticImages: Int
    public var folder: String

    init(_ run: TrainingRun) throws {
        let file = "\(run.folder)/\(TrainingMetrics.fileName)"
        guard Files.exists(file) else { throw FileError(path: file, reason: "missing: run \(run.name) seed \(run.seed) has not finished (train it again)") }
        let metrics = try TrainingMetrics.read(folder: run.folder)
        let foreign = Self.differences(metrics, run)
        guard foreign.isEmpty else {
            throw FileError(path: file, reason: "not run \(run.name) seed \(run.seed) of this preset (\(foreign.joined(separator: "; "))): "
                            + "a folder of another preset or plan; rerun without --report-only")
        }
        name = run.name
        seed = run.seed
        real = try metrics.lastEvaluation("real", file: file)
        synthetic = try metrics.lastEvaluation("synthetic", file: file)
        steps = metrics.steps.count
        seconds = metrics.timing.seconds
        realImages = run.realImages
        syntheticImages = run.syntheticImages
        folder = run.folder
    }
}

extension RunResult {
    /// What in `metrics` is not what `run`'s fit arguments ask for, as "NAME (A there, B expected)":
    /// the seed, batch, input size, learning rate and width of the run, and the step it finished at.
    static func differences(_ metrics: TrainingMetrics, _ run: TrainingRun) -> [String] {
        func argument(_ flag: String) -> String? {
            run.arguments.firstIndex(of: flag).flatMap { $0 + 1 < run.arguments.count ? run.arguments[$0 + 1] : nil }
        }
        var found: [String] = []
        func expect(_ name: String, _ stored: String?, _ wanted: String?) {
            if let wanted, stored != wanted { found.append("\(name) (\(stored ?? "none") there, \(wanted) expected)") }
        }
        let training = metrics.training
        expect("seed", training["seed"]?.intValue.map { String($0) }, argument("--seed"))
        expect("batch", training["batch"]?.intValue.map { String($0) }, argument("--batch"))
        expect("input size", training["input_size"]?.arrayValue.map { $0.map { $0.intValue.map(String.init) ?? "?" }.joined(separator: "x") },
               argument("--input-size"))
        expect("lr", training["lr"]?.doubleValue.map { String(Float($0)) }, argument("--lr").flatMap(Float.init).map { String($0) })
        expect("width", metrics.model["width"]?.intValue.map { String($0) }, argument("--width"))
        expect("last step", metrics.steps.last.map { String($0.step) }, argument("--steps"))
        return found
    }
}

/// One claim of the published pattern and what the runs say of it.
public struct Verdict: Sendable {
    public enum Outcome: String, Sendable { case holds, doesNotHold = "does not hold", inconclusive }
    public var claim: String
    public var outcome: Outcome
    /// The numbers the rule was applied to (AP ×100, or a rank correlation), by name.
    public var inputs: [(String, Double)]
    public var explanation: String
}

/// Mean, lowest and highest over the seeds of a configuration.
public struct Spread: Sendable {
    public var mean: Double, min: Double, max: Double, count: Int
    init(_ values: [Double]) {
        count = values.count
        mean = values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
        min = values.min() ?? .nan
        max = values.max() ?? .nan
        let mean = self.mean
        standardDeviation = values.count > 1
            ? (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)).squareRoot() : .nan
    }
    /// Sample standard deviation over the seeds (n − 1), NaN below two seeds.
    public var standardDeviation: Double
}

/// Every number of the report, computed from the runs' metrics.json files, and the verdicts.
public struct DemoResults: Sendable {
    public var runs: [RunResult]
    public var syntheticCounts: [Int]
    public var publishedCounts: [Int]
    /// filter-instances' report.md of the synthetic set, and its preview pictures.
    public var filterReport: String
    public var previews: [String]

    /// Runs of the plan that have not finished (NAME-sSEED): only in the report of an experiment that stopped early.
    public var missing: [String] = []

    /// `allowMissing`: the experiment stopped early, so runs without a metrics.json are listed as missing
    /// instead of being an error (a damaged or foreign one is an error either way).
    init(settings: DemoSettings, runs: [TrainingRun], filterReport folder: String, allowMissing: Bool = false) throws {
        var finished: [RunResult] = []
        for run in runs {
            if allowMissing, !Files.exists("\(run.folder)/\(TrainingMetrics.fileName)") {
                missing.append("\(run.name)-s\(run.seed)")
            } else {
                finished.append(try RunResult(run))
            }
        }
        self.runs = finished
        syntheticCounts = settings.syntheticCounts
        publishedCounts = settings.publishedCounts
        filterReport = (try? String(contentsOfFile: "\(folder)/report.md", encoding: .utf8)) ?? "(no filter report)"
        let previewFolder = "\(folder)/previews"
        previews = Files.list(previewFolder).filter { $0.hasSuffix(".png") }.sorted().map { "\(previewFolder)/\($0)" }
    }

    /// All seeds of a configuration.
    public func all(_ name: String) -> [RunResult] { runs.filter { $0.name == name } }

    /// A score over the seeds of a configuration, ×100.
    public func spread(_ name: String, _ value: (RunResult) -> Double) -> Spread { Spread(all(name).map { 100 * value($0) }) }
    public func realAP(_ name: String) -> Spread { spread(name) { $0.real.ap } }
    public func syntheticAP(_ name: String) -> Spread { spread(name) { $0.synthetic.ap } }

    public var largest: Int { syntheticCounts.last! }

    /// The noise of one training: the largest standard deviation over seeds (AP ×100 on real
    /// val) among the configurations trained with several seeds; nil if none was.
    public var seedSpread: Double? {
        Set(runs.map(\.name)).map { realAP($0) }.filter { $0.count > 1 }.map(\.standardDeviation).max()
    }

    /// The rule every comparison follows, in words (quoted by the report).
    public static let rule = "a difference of means (AP ×100) **holds** when it exceeds twice the seed spread, **does not hold** when it is "
        + "below minus twice the seed spread, and is **inconclusive** in between. The seed spread is the largest standard deviation "
        + "over seeds among the configurations trained with several seeds, and it stands for the noise of single-seed configurations "
        + "too. With three seeds per side (the full preset), twice the standard deviation is 2.4 standard errors of the difference of means (a "
        + "t-test with 4 degrees of freedom: one-sided p < 0.04); the tables show min–max over seeds beside each mean"

    /// `a` above `b` by the rule.
    func compare(_ claim: String, _ a: (label: String, value: Double), _ b: (label: String, value: Double)) -> Verdict {
        let difference = a.value - b.value
        var inputs: [(String, Double)] = [(a.label, a.value), (b.label, b.value), ("difference", difference)]
        guard let spread = seedSpread, !difference.isNaN else {
            return Verdict(claim: claim, outcome: .inconclusive, inputs: inputs, explanation: "no seed spread measured or a run is missing")
        }
        inputs.append(("seed spread", spread))
        let outcome: Verdict.Outcome = difference > 2 * spread ? .holds : difference < -2 * spread ? .doesNotHold : .inconclusive
        let explanation = String(format: "%.1f − %.1f = %+.1f against twice the seed spread %.1f", a.value, b.value, difference, 2 * spread)
        return Verdict(claim: claim, outcome: outcome, inputs: inputs, explanation: explanation)
    }

    /// Real-only with twice the steps gains less than max(1 AP, the seed spread). The control is
    /// compared with the real-only run of its own seed: the pair differs in steps only.
    public var convergence: Verdict {
        let claim = "real-only has converged: twice the steps (same seed) gains less than max(1 AP, the seed spread)"
        guard let control = all(DemoRun.converged).first, let same = all(DemoRun.realOnly).first(where: { $0.seed == control.seed }) else {
            return Verdict(claim: claim, outcome: .inconclusive, inputs: [], explanation: "the control did not run")
        }
        let once = 100 * same.real.ap, twice = 100 * control.real.ap
        let tolerance = max(1, seedSpread ?? 0), gain = twice - once
        return Verdict(claim: claim, outcome: gain < tolerance ? .holds : .doesNotHold,
                       inputs: [("real-only", once), ("real-only, twice the steps", twice), ("gain", gain), ("tolerance", tolerance)],
                       explanation: String(format: "seed %d: %.1f → %.1f (%+.1f) against a tolerance of %.1f", control.seed, once, twice, gain, tolerance))
    }

    /// Table 2's points: real val AP (seed means) against the synthetic count, 0 = real-only.
    public var curve: [(count: Int, ap: Spread)] {
        [(0, realAP(DemoRun.realOnly))] + syntheticCounts.map { ($0, realAP(DemoRun.mixed($0))) }
    }

    /// Spearman's rank correlation of real val AP with the synthetic count (ties get mean ranks).
    public var rankCorrelation: Double {
        let points = curve.filter { !$0.ap.mean.isNaN }
        guard points.count > 2 else { return .nan }
        func ranks(_ values: [Double]) -> [Double] {
            values.map { value in
                let below = values.filter { $0 < value }.count, equal = values.filter { $0 == value }.count
                return Double(below) + Double(equal + 1) / 2
            }
        }
        let a = ranks(points.map { Double($0.count) }), b = ranks(points.map(\.ap.mean))
        let ma = a.reduce(0, +) / Double(a.count), mb = b.reduce(0, +) / Double(b.count)
        let cov = zip(a, b).map { ($0 - ma) * ($1 - mb) }.reduce(0, +)
        let va = a.map { ($0 - ma) * ($0 - ma) }.reduce(0, +), vb = b.map { ($0 - mb) * ($0 - mb) }.reduce(0, +)
        return va > 0 && vb > 0 ? cov / (va * vb).squareRoot() : .nan
    }

    /// The published pattern, each claim judged by the rule.
    public var verdicts: [Verdict] {
        let realOnly = realAP(DemoRun.realOnly).mean, mixed = realAP(DemoRun.mixed(largest)).mean
        var list = [
            convergence,
            compare("mixed training (+\(largest) synthetic) above real-only at equal steps, on real val",
                    ("mixed +\(largest)", mixed), ("real-only", realOnly)),
        ]
        if syntheticCounts.count > 1 {
            let rho = rankCorrelation
            let outcome: Verdict.Outcome = rho.isNaN ? .inconclusive : rho >= 0.8 ? (list[1].outcome == .holds ? .holds : .inconclusive) : .doesNotHold
            list.append(Verdict(claim: "real val AP rises with the synthetic count (Spearman's ρ over 0, \(syntheticCounts.map(String.init).joined(separator: ", ")) ≥ 0.8, and the largest mix holds above real-only)",
                                outcome: outcome, inputs: [("rank correlation", rho)], explanation: String(format: "ρ = %.2f", rho)))
        }
        list.append(compare("in-domain above cross-domain on real val", ("real-only", realOnly),
                            ("synthetic-only", realAP(DemoRun.syntheticOnly).mean)))
        list.append(compare("in-domain above cross-domain on synthetic val", ("synthetic-only", syntheticAP(DemoRun.syntheticOnly).mean),
                            ("real-only", syntheticAP(DemoRun.realOnly).mean)))
        if !all(DemoRun.fineTuned).isEmpty {
            list.append(compare("synthetic pre-training → real fine-tuning (1.5× the steps) above real-only with 2× the steps, on real val",
                                ("fine-tuned", realAP(DemoRun.fineTuned).mean), ("real-only 2×", realAP(DemoRun.converged).mean)))
        }
        if !all(DemoRun.unfiltered).isEmpty {
            list.append(compare("filtering the synthetic instances helps (mixed +\(largest), on real val)",
                                ("filtered", mixed), ("unfiltered", realAP(DemoRun.unfiltered).mean)))
            list.append(compare("splitting rider and two-wheeler helps (mixed +\(largest), on real val)",
                                ("split", mixed), ("unsplit", realAP(DemoRun.unsplit).mean)))
        }
        return list
    }

    /// report.json: every number the report shows, machine-readable.
    public func json(settings: DemoSettings, elapsed: Double) -> JSON {
        func number(_ value: Double) -> JSON { value.isFinite ? .double(value) : .null }
        func score(_ score: EvaluationSummary) -> JSON {
            .object([("ap", number(score.ap)), ("ap50", number(score.ap50)),
                     ("classes", .object(score.classes.map { ($0.name, .object([("ap", number($0.ap)), ("ap50", number($0.ap50))])) }))])
        }
        func spread(_ s: Spread) -> JSON {
            .object([("mean", number(s.mean)), ("min", number(s.min)), ("max", number(s.max)), ("sd", number(s.standardDeviation)),
                     ("seeds", .int(s.count))])
        }
        let names = runs.map(\.name).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        return .object([
            ("preset", .string(settings.preset)),
            ("missing_runs", .array(missing.map { .string($0) })),
            ("engine", .string(settings.engine.rawValue)),
            ("model", .string(settings.engine == .torch ? settings.model : "synmix")),
            ("elapsed_seconds", number(elapsed)),
            ("settings", .object([
                ("seed", .int(Int(settings.seed))), ("steps", .int(settings.steps)), ("batch", .int(settings.batch)),
                ("input_size", .array([.int(settings.inputWidth), .int(settings.inputHeight)])), ("width", .int(settings.width)),
                ("lr", .double(settings.learningRate)), ("real_share", .double(settings.realShare)), ("gap", .double(settings.gap)),
                ("real_train", .int(settings.realTrain)), ("real_train_classes", .string(settings.realTrainClasses.rawValue)),
                ("real_val", .int(settings.realVal)), ("synthetic_train", .int(settings.syntheticTrain)), ("synthetic_val", .int(settings.syntheticVal)),
            ])),
            ("runs", .array(runs.map { run in
                .object([("name", .string(run.name)), ("seed", .int(Int(run.seed))), ("steps", .int(run.steps)),
                         ("train_images", .object([("real", .int(run.realImages)), ("synthetic", .int(run.syntheticImages))])),
                         ("seconds", number(run.seconds)), ("metrics", .string("\(run.folder)/\(TrainingMetrics.fileName)")),
                         ("real", score(run.real)), ("synthetic", score(run.synthetic))])
            })),
            ("configurations", .object(names.map { name in
                (name, .object([("real_ap", spread(realAP(name))), ("synthetic_ap", spread(syntheticAP(name)))]))
            })),
            ("table2", .array(zip([0] + syntheticCounts, [0] + publishedCounts).map { count, published in
                .object([("synthetic_images", .int(count)), ("published_equivalent", .int(published)),
                         ("real_ap", spread(count == 0 ? realAP(DemoRun.realOnly) : realAP(DemoRun.mixed(count))))])
            })),
            ("rank_correlation", number(rankCorrelation)),
            ("seed_spread", seedSpread.map(number) ?? .null),
            ("rule", .string(Self.rule.replacingOccurrences(of: "**", with: ""))),
            ("verdicts", .array(verdicts.map { verdict in
                .object([("claim", .string(verdict.claim)), ("verdict", .string(verdict.outcome.rawValue)),
                         ("inputs", .object(verdict.inputs.map { ($0.0, number($0.1)) })), ("explanation", .string(verdict.explanation))])
            })),
        ])
    }
}
