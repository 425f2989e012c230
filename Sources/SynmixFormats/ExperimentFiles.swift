import SynmixCore

/// `synmix-demo`'s `plan.json`: what fixes an experiment folder's outputs. A rerun into the folder continues it
/// only when every field is the same.
public struct ExperimentIdentity: Sendable {
    public static let fileName = "plan.json"

    public var preset: String, engine: String, model: String
    /// The torch engine's backbone and its ImageNet weights (nil for the swift engine).
    public var backbone: String?, backboneWeights: String?
    public var seed: UInt64, steps: Int, batch: Int, seeds: Int
    public var gap: Double, learningRate: Double
    public var inputSize: (width: Int, height: Int)
    /// The user's Cityscapes and Synscapes roots (nil for the generated benchmark).
    public var datasets: (cityscapes: String, synscapes: String)?
    public var ablations: Bool
    public var only: [String]?

    public init(preset: String, engine: String, model: String, backbone: String?, backboneWeights: String?, seed: UInt64, steps: Int,
                batch: Int, seeds: Int, gap: Double, learningRate: Double, inputSize: (width: Int, height: Int),
                datasets: (cityscapes: String, synscapes: String)?, ablations: Bool, only: [String]?) {
        (self.preset, self.engine, self.model, self.backbone, self.backboneWeights) = (preset, engine, model, backbone, backboneWeights)
        (self.seed, self.steps, self.batch, self.seeds, self.gap, self.learningRate) = (seed, steps, batch, seeds, gap, learningRate)
        (self.inputSize, self.datasets, self.ablations, self.only) = (inputSize, datasets, ablations, only?.sorted())
    }

    public var json: JSON {
        .object([("preset", .string(preset)), ("engine", .string(engine)), ("model", .string(model)),
                 ("backbone", backbone.map { .string($0) } ?? .null), ("backbone_weights", backboneWeights.map { .string($0) } ?? .null),
                 ("seed", .int(Int(seed))), ("steps", .int(steps)), ("batch", .int(batch)), ("seeds", .int(seeds)), ("gap", .double(gap)),
                 ("lr", .double(learningRate)), ("input_size", .array([.int(inputSize.width), .int(inputSize.height)])),
                 ("datasets", datasets.map { .array([.string($0.cityscapes), .string($0.synscapes)]) } ?? .null),
                 ("ablations", .bool(ablations)), ("only", only.map { .array($0.map { .string($0) }) } ?? .null)])
    }

    /// How a stored identity (plan.json's JSON) differs from this one, field by field ("NAME (A there, B now)").
    public func differences(fromStored stored: JSON) -> [String] {
        guard case .object(let pairs) = json else { return [] }
        return pairs.filter { stored[$0.0]?.compact != $0.1.compact }.map { "\($0.0) (\(stored[$0.0]?.compact ?? "none") there, \($0.1.compact) now)" }
    }
}

/// `synmix-demo`'s `report.json`: every number the report shows, machine-readable. NaN (a run missing, an
/// undefined share) is written as null.
public struct ExperimentReport: Sendable {
    public static let fileName = "report.json"

    public struct Settings: Sendable {
        public var seed: UInt64, steps: Int, batch: Int, inputSize: (width: Int, height: Int), width: Int
        public var learningRate: Double, realShare: Double, gap: Double
        public var realTrain: Int, realTrainClasses: String, realVal: Int, syntheticTrain: Int, syntheticVal: Int
        public init(seed: UInt64, steps: Int, batch: Int, inputSize: (width: Int, height: Int), width: Int, learningRate: Double,
                    realShare: Double, gap: Double, realTrain: Int, realTrainClasses: String, realVal: Int, syntheticTrain: Int, syntheticVal: Int) {
            (self.seed, self.steps, self.batch, self.inputSize, self.width) = (seed, steps, batch, inputSize, width)
            (self.learningRate, self.realShare, self.gap) = (learningRate, realShare, gap)
            (self.realTrain, self.realTrainClasses, self.realVal, self.syntheticTrain, self.syntheticVal) = (realTrain, realTrainClasses, realVal, syntheticTrain, syntheticVal)
        }
    }

    public struct Run: Sendable {
        public var name: String, seed: UInt64, steps: Int, realImages: Int, syntheticImages: Int, seconds: Double
        /// The run's own metrics.json, which every number here quotes.
        public var metrics: String
        public var real: EvaluationResult, synthetic: EvaluationResult
        public init(name: String, seed: UInt64, steps: Int, realImages: Int, syntheticImages: Int, seconds: Double, metrics: String,
                    real: EvaluationResult, synthetic: EvaluationResult) {
            (self.name, self.seed, self.steps, self.realImages, self.syntheticImages, self.seconds) = (name, seed, steps, realImages, syntheticImages, seconds)
            (self.metrics, self.real, self.synthetic) = (metrics, real, synthetic)
        }
    }

    public struct Configuration: Sendable {
        public var name: String, realAP: Spread, syntheticAP: Spread
        public init(name: String, realAP: Spread, syntheticAP: Spread) { (self.name, self.realAP, self.syntheticAP) = (name, realAP, syntheticAP) }
    }

    public struct Table2Row: Sendable {
        public var syntheticImages: Int, publishedEquivalent: Int, realAP: Spread, combinationsShown: Int?
        public init(syntheticImages: Int, publishedEquivalent: Int, realAP: Spread, combinationsShown: Int?) {
            (self.syntheticImages, self.publishedEquivalent, self.realAP, self.combinationsShown) = (syntheticImages, publishedEquivalent, realAP, combinationsShown)
        }
    }

    public struct Trend: Sendable {
        public var rule: String, slopePerDoubling: Double, interval: (low: Double, high: Double), resamples: Int
        /// Every mixed run: its synthetic count and real val AP.
        public var runs: [(syntheticImages: Int, realAP: Double)]
        public init(rule: String, slopePerDoubling: Double, interval: (low: Double, high: Double), resamples: Int,
                    runs: [(syntheticImages: Int, realAP: Double)]) {
            (self.rule, self.slopePerDoubling, self.interval, self.resamples, self.runs) = (rule, slopePerDoubling, interval, resamples, runs)
        }
    }

    public struct Verdict: Sendable {
        /// `verdict` is `holds`, `does not hold`, `inconclusive` or `inconclusive (not converged)`; `inputs` the named
        /// numbers it rests on, labelled as in the report.
        public var claim: String, verdict: String, inputs: [(String, Double)], explanation: String
        public init(claim: String, verdict: String, inputs: [(String, Double)], explanation: String) {
            (self.claim, self.verdict, self.inputs, self.explanation) = (claim, verdict, inputs, explanation)
        }
    }

    public var preset: String, missingRuns: [String], engine: String, model: String, elapsedSeconds: Double
    public var settings: Settings
    public var runs: [Run], configurations: [Configuration], table2: [Table2Row]
    public var rankCorrelation: Double, trend: Trend, transfer: [ClassTransfer], coverage: Coverage?
    public var seedSpread: Double?, largestSeedSD: Double?
    public var sharedClasses: [String], rule: String, verdicts: [Verdict]

    public init(preset: String, missingRuns: [String], engine: String, model: String, elapsedSeconds: Double, settings: Settings,
                runs: [Run], configurations: [Configuration], table2: [Table2Row], rankCorrelation: Double, trend: Trend,
                transfer: [ClassTransfer], coverage: Coverage?, seedSpread: Double?, largestSeedSD: Double?, sharedClasses: [String],
                rule: String, verdicts: [Verdict]) {
        (self.preset, self.missingRuns, self.engine, self.model, self.elapsedSeconds) = (preset, missingRuns, engine, model, elapsedSeconds)
        (self.settings, self.runs, self.configurations, self.table2) = (settings, runs, configurations, table2)
        (self.rankCorrelation, self.trend, self.transfer, self.coverage) = (rankCorrelation, trend, transfer, coverage)
        (self.seedSpread, self.largestSeedSD, self.sharedClasses, self.rule, self.verdicts) = (seedSpread, largestSeedSD, sharedClasses, rule, verdicts)
    }

    public var json: JSON {
        func number(_ value: Double) -> JSON { value.isFinite ? .double(value) : .null }
        func score(_ score: EvaluationResult) -> JSON {
            .object([("ap", number(score.ap)), ("ap50", number(score.ap50)),
                     ("classes", .object(score.classes.map { ($0.name, .object([("ap", number($0.ap)), ("ap50", number($0.ap50))])) }))])
        }
        func spread(_ s: Spread) -> JSON {
            .object([("mean", number(s.mean)), ("min", number(s.min)), ("max", number(s.max)), ("sd", number(s.standardDeviation)),
                     ("seeds", .int(s.count))])
        }
        let s = settings
        return .object([
            ("preset", .string(preset)),
            ("missing_runs", .array(missingRuns.map { .string($0) })),
            ("engine", .string(engine)),
            ("model", .string(model)),
            ("elapsed_seconds", number(elapsedSeconds)),
            ("settings", .object([
                ("seed", .int(Int(s.seed))), ("steps", .int(s.steps)), ("batch", .int(s.batch)),
                ("input_size", .array([.int(s.inputSize.width), .int(s.inputSize.height)])), ("width", .int(s.width)),
                ("lr", .double(s.learningRate)), ("real_share", .double(s.realShare)), ("gap", .double(s.gap)),
                ("real_train", .int(s.realTrain)), ("real_train_classes", .string(s.realTrainClasses)),
                ("real_val", .int(s.realVal)), ("synthetic_train", .int(s.syntheticTrain)), ("synthetic_val", .int(s.syntheticVal)),
            ])),
            ("runs", .array(runs.map { run in
                .object([("name", .string(run.name)), ("seed", .int(Int(run.seed))), ("steps", .int(run.steps)),
                         ("train_images", .object([("real", .int(run.realImages)), ("synthetic", .int(run.syntheticImages))])),
                         ("seconds", number(run.seconds)), ("metrics", .string(run.metrics)),
                         ("real", score(run.real)), ("synthetic", score(run.synthetic))])
            })),
            ("configurations", .object(configurations.map {
                ($0.name, .object([("real_ap", spread($0.realAP)), ("synthetic_ap", spread($0.syntheticAP))]))
            })),
            ("table2", .array(table2.map { row in
                .object([("synthetic_images", .int(row.syntheticImages)), ("published_equivalent", .int(row.publishedEquivalent)),
                         ("real_ap", spread(row.realAP)), ("combinations_shown", row.combinationsShown.map { .int($0) } ?? .null)])
            })),
            ("rank_correlation", number(rankCorrelation)),
            ("trend", .object([("rule", .string(trend.rule)), ("slope_per_doubling", number(trend.slopePerDoubling)),
                               ("interval", .array([number(trend.interval.low), number(trend.interval.high)])),
                               ("resamples", .int(trend.resamples)),
                               ("runs", .array(trend.runs.map { .object([("synthetic_images", .int($0.syntheticImages)), ("real_ap", number($0.realAP))]) }))])),
            ("transfer", .array(transfer.map { row in
                .object([("class", .string(row.name)), ("synthetic_only_on_real", number(row.syntheticOnReal)),
                         ("synthetic_only_on_synthetic", number(row.syntheticOnSynthetic)), ("real_only_on_real", number(row.realOnReal)),
                         ("mixed_on_real", number(row.mixedOnReal)), ("share_of_in_domain", number(row.shareOfInDomain)),
                         ("share_of_real_trained", number(row.shareOfRealTrained))])
            })),
            ("coverage", coverage?.json ?? .null),
            ("seed_spread", seedSpread.map(number) ?? .null),
            ("largest_seed_sd", largestSeedSD.map(number) ?? .null),
            ("shared_classes", .array(sharedClasses.map { .string($0) })),
            ("rule", .string(rule)),
            ("verdicts", .array(verdicts.map { verdict in
                .object([("claim", .string(verdict.claim)), ("verdict", .string(verdict.verdict)),
                         ("inputs", .object(verdict.inputs.map { ($0.0, number($0.1)) })), ("explanation", .string(verdict.explanation))])
            })),
        ])
    }

    /// The wall time a report in `folder` recorded (a rewritten report keeps the time of the run that trained), or NaN.
    public static func recordedElapsedSeconds(folder: String) -> Double {
        (try? JSON.parse(try Files.read("\(folder)/\(fileName)")))?["elapsed_seconds"]?.doubleValue ?? .nan
    }
}

/// Mean, lowest and highest of a value over the seeds of a configuration, and its spread.
public struct Spread: Sendable {
    public var mean: Double, min: Double, max: Double, count: Int
    /// Sample standard deviation over the seeds (n − 1), NaN below two seeds.
    public var standardDeviation: Double

    public init(_ values: [Double]) {
        count = values.count
        let mean = values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
        self.mean = mean
        min = values.min() ?? .nan
        max = values.max() ?? .nan
        standardDeviation = values.count > 1
            ? (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)).squareRoot() : .nan
    }
}

/// How synthetic supervision of one class carries over to real images (seed means, AP ×100).
public struct ClassTransfer: Sendable {
    public var name: String
    /// Synthetic-only on real val (cross-domain) and on synthetic val (in-domain).
    public var syntheticOnReal: Double, syntheticOnSynthetic: Double
    /// Real-only and the largest mix on real val.
    public var realOnReal: Double, mixedOnReal: Double

    public init(name: String, syntheticOnReal: Double, syntheticOnSynthetic: Double, realOnReal: Double, mixedOnReal: Double) {
        (self.name, self.syntheticOnReal, self.syntheticOnSynthetic, self.realOnReal, self.mixedOnReal) =
            (name, syntheticOnReal, syntheticOnSynthetic, realOnReal, mixedOnReal)
    }

    /// The share of its in-domain AP that synthetic-only keeps on real images (the seed's Table 1: about a third).
    public var shareOfInDomain: Double { syntheticOnSynthetic > 0 ? syntheticOnReal / syntheticOnSynthetic : .nan }
    /// Synthetic-only against real-trained on real val; undefined where real-only scores 0 (the rare classes).
    public var shareOfRealTrained: Double { realOnReal > 0 ? syntheticOnReal / realOnReal : .nan }
}
