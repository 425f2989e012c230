import Foundation
import SynmixCore
import SynmixFormats

/// The final evaluations of one training run.
public struct RunResult: Sendable {
    public var name: String
    public var seed: UInt64
    /// AP of the model on each val set, read back from its metrics.json.
    public var real: EvaluationResult
    public var synthetic: EvaluationResult
    public var steps: Int
    public var seconds: Double
    /// Training images per domain.
    public var realImages: Int
    public var syntheticImages: Int
    public var folder: String
    /// The warm-up share of the steps its training log records (nil for the detector's, which warms up in steps).
    public var warmupFraction: Double?

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
        warmupFraction = metrics.recordedWarmupFraction
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
        expect("seed", metrics.recordedSeed.map { String($0) }, argument("--seed"))
        expect("batch", metrics.recordedBatch.map { String($0) }, argument("--batch"))
        expect("input size", metrics.recordedInputSize, argument("--input-size"))
        expect("lr", metrics.recordedLearningRate.map { String(Float($0)) }, argument("--lr").flatMap(Float.init).map { String($0) })
        expect("width", metrics.recordedWidth.map { String($0) }, argument("--width"))
        expect("last step", metrics.steps.last.map { String($0.step) }, argument("--steps"))
        return found
    }
}

/// One claim of the published pattern and what the runs say of it.
public struct Verdict: Sendable {
    public enum Outcome: String, Sendable {
        case holds, doesNotHold = "does not hold", inconclusive
        /// The numbers say "does not hold", but the side that lost may gain with more steps.
        case notConverged = "inconclusive (not converged)"
    }
    public var claim: String
    public var outcome: Outcome
    /// The numbers the rule was applied to (AP ×100, or a rank correlation), by name.
    public var inputs: [(String, Double)]
    public var explanation: String
}


/// Every number of the report, computed from the runs' metrics.json files, and the verdicts.
public struct DemoResults: Sendable {
    public var runs: [RunResult]
    /// The configurations the runs were made from.
    public var plan: [PlannedConfiguration]
    public var syntheticCounts: [Int]
    public var publishedCounts: [Int]
    /// filter-instances' report.md of the synthetic set, and its preview pictures.
    public var filterReport: String
    public var previews: [String]

    /// Runs of the plan that have not finished (NAME-sSEED): only in the report of an experiment that stopped early.
    public var missing: [String] = []
    /// Share of real images per batch in the fixed-share run, and the steps of every run at equal compute.
    public var realShare: Double
    public var steps: Int
    /// The variety of each synthetic count (the generated benchmark only).
    public var coverage: Coverage?
    /// Classes both training sets hold at least `sharedClassMinimum` instances of: where in-domain and
    /// cross-domain are compared with the class coverage held equal.
    public var sharedClasses: [String]
    public static let sharedClassMinimum = 50
    /// A class transfers when synthetic-only's mean AP (×100) on real val reaches this: what the report's one
    /// decimal shows as above 0 (0.03 AP is one lucky detection, not supervision that carries over).
    public static let transferFloor = 0.1

    /// `allowMissing`: the experiment stopped early, so runs without a metrics.json are listed as missing
    /// instead of being an error (a damaged or foreign one is an error either way).
    init(settings: DemoSettings, plan: [PlannedConfiguration], runs: [TrainingRun], filterReport folder: String, allowMissing: Bool = false) throws {
        self.plan = plan
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
        realShare = settings.realShare
        steps = settings.steps
        // The training sets' instances per class, from their shard indexes.
        func index(_ set: String) -> ShardIndex? { try? ShardIndex.read(folder: "\(settings.out)/shards/\(set)") }
        func instances(_ index: ShardIndex?) -> [String: Int] {
            (index?.shards ?? []).reduce(into: [:]) { total, shard in total.merge(shard.classes, uniquingKeysWith: +) }
        }
        let realIndex = index("real-train")
        let real = instances(realIndex), synthetic = instances(index("synthetic-all"))
        sharedClasses = realIndex?.taxonomy?.instanceClasses
            .filter { real[$0, default: 0] >= Self.sharedClassMinimum && synthetic[$0, default: 0] >= Self.sharedClassMinimum } ?? []
        let coverageFile = "\(settings.out)/\(Coverage.fileName)"
        coverage = Files.exists(coverageFile) ? try Coverage(json: JSON.parse(try Files.read(coverageFile)), file: coverageFile) : nil
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
    /// The mean of AP over `sharedClasses`, on real or synthetic val, over the seeds (×100).
    public func sharedAP(_ name: String, synthetic: Bool) -> Spread {
        spread(name) { run in
            let scores = synthetic ? run.synthetic : run.real
            return sharedClasses.isEmpty ? .nan : sharedClasses.map { scores.ap(of: $0) }.reduce(0, +) / Double(sharedClasses.count)
        }
    }

    public var largest: Int { syntheticCounts.last! }

    /// The noise of one training: the pooled standard deviation over seeds (AP ×100 on real val) of the
    /// configurations trained with several seeds — the root of their variances averaged with their degrees of
    /// freedom, as a t-test pools them; nil if none was. (The largest of them, the rule while only two
    /// configurations had seeds, overstates the noise once seven do: the biggest of seven 3-seed estimates.)
    public var seedSpread: Double? {
        let seeded = Set(runs.map(\.name)).map { realAP($0) }.filter { $0.count > 1 }
        let freedom = seeded.map { Double($0.count - 1) }.reduce(0, +)
        guard freedom > 0 else { return nil }
        return (seeded.map { Double($0.count - 1) * $0.standardDeviation * $0.standardDeviation }.reduce(0, +) / freedom).squareRoot()
    }

    /// The largest standard deviation over seeds of one configuration (reported beside the pooled one).
    public var largestSeedDeviation: Double? {
        Set(runs.map(\.name)).map { realAP($0) }.filter { $0.count > 1 }.map(\.standardDeviation).max()
    }

    /// The rule every comparison follows, in words (quoted by the report).
    public static let rule = "a difference of means (AP ×100) **holds** when it exceeds twice the seed spread, **does not hold** when it is "
        + "below minus twice the seed spread, and is **inconclusive** in between. The seed spread is the pooled standard deviation "
        + "over seeds of the configurations trained with several seeds (their variances averaged with their degrees of freedom), and it "
        + "stands for the noise of single-seed configurations too. With three seeds per side (the full preset), twice the standard "
        + "deviation is 2.4 standard errors of the difference of means (a t-test with the pooled degrees of freedom, 15 in the full preset: "
        + "one-sided p < 0.02); the tables show min–max over seeds beside each mean. A claim **does not "
        + "hold** only when the side that lost has converged — its convergence control, the same seeds with twice the steps, gains less than "
        + "max(1 AP, the seed spread) on average over the control's seeds —, else it is **inconclusive (not converged)**. The rise with the synthetic count follows the trend "
        + "rule instead of a difference: the least-squares slope of real val AP against log2 of the count through every mixed run, with a 95 % "
        + "bootstrap interval (seeds resampled within each count); **holds** when the interval lies above 0, **does not hold** when below "
        + "(and the largest mix has converged), **inconclusive** otherwise"

    /// `a` above `b` by the rule. A claim *does not hold* only when `a`, the side that lost, has converged
    /// (its control says so); otherwise it is inconclusive (not converged).
    func compare(_ claim: String, _ a: (label: String, value: Double), _ b: (label: String, value: Double), loser: String? = nil) -> Verdict {
        let difference = a.value - b.value
        var inputs: [(String, Double)] = [(a.label, a.value), (b.label, b.value), ("difference", difference)]
        guard let spread = seedSpread, !difference.isNaN else {
            return Verdict(claim: claim, outcome: .inconclusive, inputs: inputs, explanation: "no seed spread measured or a run is missing")
        }
        inputs.append(("seed spread", spread))
        let outcome: Verdict.Outcome = difference > 2 * spread ? .holds : difference < -2 * spread ? .doesNotHold : .inconclusive
        let explanation = String(format: "%.1f − %.1f = %+.1f against twice the seed spread %.1f", a.value, b.value, difference, 2 * spread)
        return guarded(Verdict(claim: claim, outcome: outcome, inputs: inputs, explanation: explanation), loser: loser)
    }

    /// `verdict`, or *inconclusive (not converged)* where it says "does not hold" but `loser`, the side that lost,
    /// has no control that shows it converged: the one rule every claim's "does not hold" passes through.
    func guarded(_ verdict: Verdict, loser: String?) -> Verdict {
        guard verdict.outcome == .doesNotHold else { return verdict }
        var note = "the losing side has no convergence control"
        if let loser {
            let control = convergence(of: loser)
            switch control.outcome {
            case .holds: return verdict
            case .inconclusive: note = "\(loser) has no convergence control"
            default: note = "\(loser) has not converged (\(control.explanation))"
            }
        }
        var guarded = verdict
        guarded.outcome = .notConverged
        guarded.explanation += "; " + note
        return guarded
    }

    /// `name` with `DemoPlan.controlFactor` times the steps gains less than max(1 AP, the seed spread), on average over
    /// the control's seeds. Each control run is compared with the run of its own seed: a pair differs in steps only.
    public func convergence(of name: String) -> Verdict {
        let factor = String(format: "%g", DemoPlan.controlFactor)
        let claim = "\(name) has converged at \(steps) steps: \(factor)× the steps (each seed against itself) gains less than "
            + "max(1 AP, the seed spread) on average"
        let pairs = all(DemoRun.control(name)).compactMap { control in
            all(name).first { $0.seed == control.seed }.map { (seed: control.seed, once: 100 * $0.real.ap, longer: 100 * control.real.ap) }
        }
        guard !pairs.isEmpty else {
            return Verdict(claim: claim, outcome: .inconclusive, inputs: [], explanation: "the control did not run")
        }
        let once = Spread(pairs.map(\.once)).mean, longer = Spread(pairs.map(\.longer)).mean, gain = longer - once
        let tolerance = max(1, seedSpread ?? 0)
        let seeds = pairs.map { String(format: "seed %d: %.1f → %.1f (%+.1f)", $0.seed, $0.once, $0.longer, $0.longer - $0.once) }
        let average = pairs.count > 1 ? String(format: "; mean %+.1f", gain) : ""
        return Verdict(claim: claim, outcome: gain < tolerance ? .holds : .doesNotHold,
                       inputs: [(name, once), ("\(name), \(factor)× the steps", longer), ("gain", gain), ("tolerance", tolerance), ("seeds", Double(pairs.count))],
                       explanation: seeds.joined(separator: ", ") + average + String(format: " against a tolerance of %.1f", tolerance))
    }

    /// Table 2's points: real val AP (seed means) against the synthetic count, 0 = real-only.
    public var curve: [(count: Int, ap: Spread)] {
        [(0, realAP(DemoRun.realOnly))] + syntheticCounts.map { ($0, realAP(DemoRun.mixed($0))) }
    }

    /// Spearman's rank correlation of real val AP with the synthetic count (ties get mean ranks), on the seed means.
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

    /// The trend rule's inputs: every mixed run's real val AP (×100) at log2 of its synthetic count, the least-squares
    /// slope through all of them (AP per doubling of the count), and its 95 % bootstrap interval (seeds resampled
    /// with replacement within each count, `Trend.resamples` times, from a fixed seed: the same runs give the same interval).
    public var trend: Trend {
        let points = syntheticCounts.flatMap { count in all(DemoRun.mixed(count)).map { (count: count, ap: 100 * $0.real.ap) } }
        return Trend(points: points)
    }

    /// Synthetic-only's AP on real val per class against real-trained and in-domain AP (seed means, ×100).
    public var transfer: [ClassTransfer] {
        let names = runs.first?.real.classes.map(\.name) ?? []
        return names.map { name in
            ClassTransfer(name: name,
                          syntheticOnReal: spread(DemoRun.syntheticOnly) { $0.real.ap(of: name) }.mean,
                          syntheticOnSynthetic: spread(DemoRun.syntheticOnly) { $0.synthetic.ap(of: name) }.mean,
                          realOnReal: spread(DemoRun.realOnly) { $0.real.ap(of: name) }.mean,
                          mixedOnReal: spread(DemoRun.mixed(largest)) { $0.real.ap(of: name) }.mean)
        }
    }

    /// The published pattern, each claim judged by the rule.
    public var verdicts: [Verdict] {
        let realOnly = realAP(DemoRun.realOnly).mean, mixedName = DemoRun.mixed(largest), mixed = realAP(mixedName).mean
        var list = [convergence(of: DemoRun.realOnly), convergence(of: mixedName),
                    compare("mixed training (+\(largest) synthetic) above real-only at equal steps, on real val",
                            ("mixed +\(largest)", mixed), ("real-only", realOnly), loser: mixedName)]
        if syntheticCounts.count > 1 { list.append(riseVerdict) }
        // Over all classes, real-only's missing rare classes would decide the comparison, not the domains.
        let shared = sharedClasses.joined(separator: ", ")
        list.append(compare("in-domain above cross-domain on real val, over the classes both training sets hold (\(shared))",
                            ("real-only", sharedAP(DemoRun.realOnly, synthetic: false).mean),
                            ("synthetic-only", sharedAP(DemoRun.syntheticOnly, synthetic: false).mean), loser: DemoRun.realOnly))
        list.append(compare("in-domain above cross-domain on synthetic val, over the classes both training sets hold (\(shared))",
                            ("synthetic-only", sharedAP(DemoRun.syntheticOnly, synthetic: true).mean),
                            ("real-only", sharedAP(DemoRun.realOnly, synthetic: true).mean), loser: nil))
        if !all(DemoRun.syntheticOnly).isEmpty {
            let table = transfer.filter { !$0.syntheticOnReal.isNaN }
            let floor = String(format: "%.1f", Self.transferFloor)
            let missing = table.filter { $0.syntheticOnReal < Self.transferFloor }.map { String(format: "%@ %.2f", $0.name, $0.syntheticOnReal) }
            let outcome: Verdict.Outcome = table.isEmpty ? .inconclusive : missing.isEmpty ? .holds : .doesNotHold
            let explanation = missing.isEmpty ? "lowest " + (table.min { $0.syntheticOnReal < $1.syntheticOnReal }.map { String(format: "%@ %.1f", $0.name, $0.syntheticOnReal) } ?? "–")
                                              : "below \(floor) on real \(missing.joined(separator: ", "))"
            list.append(guarded(Verdict(claim: "synthetic supervision transfers to every class: synthetic-only scores at least \(floor) AP on real val for each",
                                        outcome: outcome, inputs: table.map { ($0.name, $0.syntheticOnReal) }, explanation: explanation),
                                loser: DemoRun.syntheticOnly))
        }
        if !all(DemoRun.fixedShare(largest)).isEmpty {
            list.append(compare("the published uniform mixing above a fixed \(Int(100 * realShare)) % real share (+\(largest), equal steps), on real val",
                                ("uniform", mixed), ("fixed share", realAP(DemoRun.fixedShare(largest)).mean), loser: mixedName))
        }
        if !all(DemoRun.fineTuned).isEmpty {
            let steps = String(format: "%g", 1 + DemoPlan.fineTuningSteps), control = String(format: "%g", DemoPlan.controlFactor)
            list.append(compare("synthetic pre-training → real fine-tuning (\(steps)× the steps) above real-only with \(control)× the steps, on real val",
                                ("fine-tuned", realAP(DemoRun.fineTuned).mean), ("real-only \(control)×", realAP(DemoRun.control(DemoRun.realOnly)).mean),
                                loser: nil))
        }
        if !all(DemoRun.unfiltered).isEmpty {
            list.append(compare("filtering the synthetic instances helps (mixed +\(largest), on real val)",
                                ("filtered", mixed), ("unfiltered", realAP(DemoRun.unfiltered).mean), loser: mixedName))
            list.append(compare("splitting rider and two-wheeler helps (mixed +\(largest), on real val)",
                                ("split", mixed), ("unsplit", realAP(DemoRun.unsplit).mean), loser: mixedName))
        }
        return list
    }

    /// The rise of Table 2 by the trend rule: *holds* when the slope's interval lies above 0, *does not hold* when it
    /// lies below 0 and the largest mix has converged, *inconclusive* otherwise.
    var riseVerdict: Verdict {
        let trend = self.trend, mixedName = DemoRun.mixed(largest)
        let claim = "real val AP rises with the synthetic count (\(syntheticCounts.map(String.init).joined(separator: ", "))): the slope of AP against "
            + "log2 of the count, through every run, has a 95 % bootstrap interval above 0"
        let inputs = [("slope", trend.slope), ("interval low", trend.interval.low), ("interval high", trend.interval.high),
                      ("runs", Double(trend.points.count)), ("rank correlation of the means", rankCorrelation)]
        guard let interval = trend.resampledInterval else {
            return Verdict(claim: claim, outcome: .inconclusive, inputs: inputs, explanation: "needs two counts and two seeds at each to resample")
        }
        let outcome: Verdict.Outcome = interval.low > 0 ? .holds : interval.high < 0 ? .doesNotHold : .inconclusive
        let explanation = String(format: "%+.2f AP per doubling, 95 %% interval %+.2f … %+.2f over %d runs; Spearman's ρ of the means %.2f",
                                 trend.slope, interval.low, interval.high, trend.points.count, rankCorrelation)
        return guarded(Verdict(claim: claim, outcome: outcome, inputs: inputs, explanation: explanation), loser: mixedName)
    }

    /// report.json: every number the report shows, machine-readable.
    public func report(settings: DemoSettings, elapsed: Double) -> ExperimentReport {
        let names = runs.map(\.name).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        return ExperimentReport(
            preset: settings.preset, missingRuns: missing, engine: settings.engine.rawValue,
            model: settings.engine == .torch ? settings.model.rawValue : "synmix", elapsedSeconds: elapsed,
            settings: ExperimentReport.Settings(
                seed: settings.seed, steps: settings.steps, batch: settings.batch, inputSize: (settings.inputWidth, settings.inputHeight),
                width: settings.width, learningRate: settings.learningRate, realShare: settings.realShare, gap: settings.gap,
                realTrain: settings.realTrain, realTrainClasses: settings.realTrainClasses.rawValue, realVal: settings.realVal,
                syntheticTrain: settings.syntheticTrain, syntheticVal: settings.syntheticVal),
            runs: runs.map { run in
                ExperimentReport.Run(name: run.name, seed: run.seed, steps: run.steps, realImages: run.realImages,
                                     syntheticImages: run.syntheticImages, seconds: run.seconds,
                                     metrics: "\(run.folder)/\(TrainingMetrics.fileName)", real: run.real, synthetic: run.synthetic)
            },
            configurations: names.map { ExperimentReport.Configuration(name: $0, realAP: realAP($0), syntheticAP: syntheticAP($0)) },
            table2: zip([0] + syntheticCounts, [0] + publishedCounts).map { count, published in
                ExperimentReport.Table2Row(syntheticImages: count, publishedEquivalent: published,
                                           realAP: count == 0 ? realAP(DemoRun.realOnly) : realAP(DemoRun.mixed(count)),
                                           combinationsShown: count == 0 ? nil : coverage?.at(count)?.combinations)
            },
            rankCorrelation: rankCorrelation, trend: trend.record, transfer: transfer, coverage: coverage,
            seedSpread: seedSpread, largestSeedSD: largestSeedDeviation, sharedClasses: sharedClasses,
            rule: Self.rule.replacingOccurrences(of: "**", with: ""),
            verdicts: verdicts.map { ExperimentReport.Verdict(claim: $0.claim, verdict: $0.outcome.rawValue, inputs: $0.inputs, explanation: $0.explanation) })
    }
}
