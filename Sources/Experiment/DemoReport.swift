import Foundation
import Pictures
import SynmixCore
import SynmixFormats
import SynmixGenerate

/// report.md, report.html and the plot: every number from the runs of this invocation.
public struct DemoReport {
    public init(results: DemoResults, settings: DemoSettings) {
        self.results = results
        self.settings = settings
    }

    let results: DemoResults
    let settings: DemoSettings

    /// AP ×100 with one decimal, or – for a run that did not happen.
    func ap(_ value: Double) -> String { value.isNaN ? "–" : String(format: "%.1f", value) }

    /// "mean (min–max, n seeds)" of a configuration, or the single value.
    func cell(_ spread: Spread) -> String {
        switch spread.count {
        case 0: "–"
        case 1: ap(spread.mean)
        default: "\(ap(spread.mean)) (\(ap(spread.min))–\(ap(spread.max)), \(spread.count) seeds)"
        }
    }

    func realCell(_ name: String) -> String { cell(results.realAP(name)) }
    func syntheticCell(_ name: String) -> String { cell(results.syntheticAP(name)) }

    /// Table 1: trained on × evaluated on, over all classes and over the classes both training sets hold.
    public var table1: String {
        let shared = results.sharedClasses.joined(separator: ", ")
        func row(_ label: String, _ name: String) -> String {
            "| \(label) | \(realCell(name)) | \(syntheticCell(name)) | \(cell(results.sharedAP(name, synthetic: false))) | "
                + "\(cell(results.sharedAP(name, synthetic: true))) |"
        }
        return """
            | trained on ↓ / evaluated on → | real val AP | synthetic val AP | real val AP (\(shared)) | synthetic val AP (\(shared)) |
            |---|---:|---:|---:|---:|
            \(row("real (\(settings.realTrain) images)", DemoRun.realOnly))
            \(row("synthetic (\(settings.syntheticTrain) images)", DemoRun.syntheticOnly))
            """
    }

    var controlSteps: Int { Int(Double(settings.steps) * DemoPlan.controlFactor) }

    /// Table 2: real val AP against the synthetic images added, every run with the same steps, beside the variety each count holds.
    public var table2: String {
        let coverage = results.coverage
        func covered(_ count: Int) -> String {
            guard let coverage, let shown = coverage.at(count) else { return "–" }
            return "\(shown.combinations) of \(coverage.total), \(shown.medianObjects) (\(shown.fewestObjects))"
        }
        var lines = ["| synthetic images added (published equivalent) | real val AP | synthetic val AP | class × sub-type × view combinations shown, objects per combination: median (fewest) |",
                     "|---|---:|---:|---:|",
                     "| 0 (real only) | \(realCell(DemoRun.realOnly)) | \(syntheticCell(DemoRun.realOnly)) | – |"]
        for (count, published) in zip(results.syntheticCounts, results.publishedCounts) {
            lines.append("| \(count) (\(published)) | \(realCell(DemoRun.mixed(count))) | \(syntheticCell(DemoRun.mixed(count))) | \(covered(count)) |")
        }
        for name in [DemoRun.realOnly, DemoRun.mixed(results.largest)] where !results.all(DemoRun.control(name)).isEmpty {
            lines.append("| control: \(name), \(controlSteps) steps | \(realCell(DemoRun.control(name))) | \(syntheticCell(DemoRun.control(name))) | |")
        }
        return lines.joined(separator: "\n")
    }

    /// The trend rule's numbers, in a sentence.
    var trendText: String {
        let trend = results.trend
        guard !trend.slope.isNaN else { return "" }
        return String(format: "Trend: %+.2f AP per doubling of the synthetic count (least squares through all %d mixed runs), 95 %% bootstrap interval "
                      + "%+.2f … %+.2f (%d resamples of the seeds within each count); Spearman's ρ of the seed means %.2f.",
                      trend.slope, trend.points.count, trend.interval.low, trend.interval.high, Trend.resamples, results.rankCorrelation)
    }

    /// Per class: how much of synthetic-only's AP carries over to real images.
    var transferTable: String {
        func share(_ value: Double) -> String { value.isNaN ? "–" : String(format: "%.0f %%", 100 * value) }
        var lines = ["| class | synthetic-only on real val | synthetic-only on synthetic val | kept (÷ in-domain) | real-only on real val | ÷ real-trained | mixed +\(results.largest) on real val |",
                     "|---|---:|---:|---:|---:|---:|---:|"]
        for row in results.transfer {
            lines.append("| \(row.name) | \(ap(row.syntheticOnReal)) | \(ap(row.syntheticOnSynthetic)) | \(share(row.shareOfInDomain)) | \(ap(row.realOnReal)) | "
                         + "\(share(row.shareOfRealTrained)) | \(ap(row.mixedOnReal)) |")
        }
        return lines.joined(separator: "\n")
    }

    var approaches: String {
        var lines = ["| approach | steps | real val AP | synthetic val AP |", "|---|---:|---:|---:|"]
        // Every configuration that ran but the smaller counts (Table 2 has them).
        let smallerCounts = Set(results.syntheticCounts.dropLast().map(DemoRun.mixed))
        for configuration in results.plan where !results.all(configuration.name).isEmpty && !smallerCounts.contains(configuration.name) {
            lines.append("| \(configuration.label) | \(Int(Double(settings.steps) * (configuration.startsFrom == nil ? configuration.stepsFactor : 1 + configuration.stepsFactor))) | "
                         + "\(realCell(configuration.name)) | \(syntheticCell(configuration.name)) |")
        }
        return lines.joined(separator: "\n")
    }

    var ablations: String {
        var lines = ["| mixed, +\(results.largest) synthetic | real val AP | synthetic val AP |", "|---|---:|---:|"]
        for (label, name) in [("filtered, two-wheelers split (the recipe)", DemoRun.mixed(results.largest)),
                              ("without filtering", DemoRun.unfiltered), ("without the two-wheeler split", DemoRun.unsplit)] {
            lines.append("| \(label) | \(realCell(name)) | \(syntheticCell(name)) |")
        }
        return lines.joined(separator: "\n")
    }

    /// Class names in the order of the evaluations.
    var classNames: [String] { results.runs.first?.real.classes.map(\.name) ?? [] }

    var perClass: String {
        let names = classNames
        var lines = ["| run (real val, mean over seeds) | " + names.joined(separator: " | ") + " |",
                     "|---|" + names.map { _ in "---:" }.joined(separator: "|") + "|"]
        for name in [DemoRun.realOnly, DemoRun.control(DemoRun.realOnly), DemoRun.syntheticOnly, DemoRun.mixed(results.largest),
                     DemoRun.control(DemoRun.mixed(results.largest)), DemoRun.fixedShare(results.largest), DemoRun.fineTuned]
        where !results.all(name).isEmpty {
            lines.append("| \(name) | " + names.map { className in ap(results.spread(name) { $0.real.ap(of: className) }.mean) }.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }

    public var checksText: String {
        var lines = results.verdicts.map { "- **\($0.outcome.rawValue)**: \($0.claim) — \($0.explanation)" }
        lines.append("\nThe rule: " + DemoResults.rule + ".")
        return lines.joined(separator: "\n")
    }

    /// What trained the runs: the protocol's training line for each engine.
    var trainingText: String {
        let s = settings
        let controls = results.plan.filter { $0.name.hasSuffix("-2x") }.map {
            "\($0.name.replacingOccurrences(of: "-2x", with: "")) (\($0.seeds == 1 ? "one seed" : "\($0.seeds) seeds"))"
        }
        let fineTuning = results.plan.first { $0.startsFrom != nil }
        var budget = "\(s.steps) steps of batch \(s.batch) at \(s.inputWidth)×\(s.inputHeight) for every run (equal compute)"
        if !controls.isEmpty {
            budget += " except the convergence controls, \(controlSteps) steps, of \(controls.joined(separator: " and "))"
        }
        if let fineTuning {
            budget += String(format: " and the fine-tuning (%d steps on real at %g× the rate, after the %@ run: %g× the budget, compared with the real-only control)",
                             Int(Double(s.steps) * fineTuning.stepsFactor), DemoPlan.fineTuningRate, fineTuning.startsFrom!, 1 + fineTuning.stepsFactor)
        }
        switch s.engine {
        case .swift:
            let warmup = results.runs.first?.warmupFraction.map { "\(Int(($0 * 100).rounded())) % linear warm-up" } ?? "linear warm-up"
            return "`train-shards fit`, width \(s.width), \(budget); AdamW, peak lr \(s.learningRate), \(warmup) then cosine, "
                + "random scale/crop/flip, one thread per run, \(s.lanes) runs side by side."
        case .torch:
            return "`synmix_torch.train --model \(s.model.rawValue) --backbone \(s.backbone.rawValue)`\(s.backboneWeights.map { " from ImageNet weights (\($0))" } ?? " from scratch"), "
                + "\(budget); SGD (momentum 0.9, weight decay 1e-4), lr \(s.learningRate), linear warm-up, ×0.1 at 75 % of the steps, "
                + "short side drawn from \(s.shortSides.map(String.init).joined(separator: "/")), flip (Detectron2's Cityscapes recipe, scaled), "
                + "\(s.processes) process(es) per run, \(s.lanes) run(s) side by side; predictions scored by `train-shards evaluate --predictions`."
        }
    }

    /// What is missing if the experiment stopped early (a paragraph of the report's opening), else nothing.
    var stoppedText: String {
        results.missing.isEmpty ? "" : """
            **Stopped early: \(results.missing.count) of \(results.missing.count + results.runs.count) runs missing** \
            (\(results.missing.joined(separator: ", "))): rerun the same command to continue; until then the tables show – for them \
            and the verdicts rest on the runs that finished.
            """
    }

    /// The report's first line: what ran and how long its runs took.
    var budgetText: String {
        let runs = results.runs
        let total = runs.map(\.seconds).reduce(0, +)
        let slowest = runs.max { $0.seconds < $1.seconds }
        return "Engine `\(settings.engine.rawValue)`" + (settings.engine == .torch ? " (\(settings.model.rawValue), \(settings.backbone.rawValue)-FPN)" : " (the synmix network)")
            + ", \(runs.count) runs, \(String(format: "%.1f", total / 60)) minutes of training steps in all"
            + (slowest.map { String(format: " (%.0f s per run on average, the longest %@-s%d %.0f s)", total / Double(max(1, runs.count)),
                                    $0.name, Int($0.seed), $0.seconds) } ?? "") + "."
    }

    var protocolText: String {
        let s = settings
        // As the plan trained it (its seeds are capped by the configuration's).
        let realOnlyControlSeeds = results.plan.first { $0.name == DemoRun.control(DemoRun.realOnly) }?.seeds ?? 1
        let data = s.datasets.map {
            "- Data: your datasets — Cityscapes at `\($0.cityscapes)` (\(s.realTrain) train, \(s.realVal) val frames) and Synscapes at "
                + "`\($0.synscapes)` (\(s.syntheticTrain) train frames, \(s.syntheticVal) held out as val, \(s.syntheticValFraction) of its ids)."
        }
        let text = """
        - Data (generated, deterministic from seed \(s.seed)): \(s.realTrain) real train frames with class mix `\(s.realTrainClasses.rawValue)` \
        (\(s.realTrainClasses.summary)), \
        \(s.realVal) balanced real val frames (Cityscapes layout), \(s.syntheticTrain) synthetic train frames with class mix \
        `\(s.syntheticClasses.rawValue)` (\(s.syntheticClasses.summary); \(s.syntheticObjects.lowerBound)–\(s.syntheticObjects.upperBound) \
        road users per frame besides the required ones, against \(DemoLook.objects.lowerBound)–\(DemoLook.objects.upperBound) in the real frames) \
        and \(s.syntheticVal) balanced synthetic val frames (Synscapes layout), all \(s.frameWidth)×\(s.frameHeight). Every class comes in sub-types with silhouettes of their own (car: sedan, hatchback, van, SUV; \
        truck: box, tanker, flatbed, pickup; bus: single, articulated, double-decker; train: tram, regional; two-wheelers three kinds \
        each; people standing, walking, children), vehicles seen from the front, the side or at an angle, two-wheelers side-on or at \
        an angle, at varied scale, occluded by each other \
        and cut by the image border\(results.coverage.map { " (\($0.total) class × sub-type × view combinations)" } ?? ""). \
        Classes are told apart by shape (outline, windows, wheels, heads); object colours come from \
        the same distribution in both domains; the domains differ only in rendering (appearance gap \(s.gap): lighting, colour \
        saturation, sensor noise and texture) and in the annotation policy. A balanced val set with a long-tailed train set is the \
        protocol of long-tail benchmarks (ImageNet-LT): every class's AP rests on many instances.
        - Pipeline: `harmonize` both, `filter-instances` the synthetic set (thresholds calibrated from the real annotations), \
        `pack-mix` at \(s.inputWidth)×\(s.inputHeight).
        - Training: \(trainingText)
        - Mixing: each mix of Table 2 is pack-mix's uniformly shuffled union of the real images and the first N synthetic ones \
        (the published mixing), so the real share of a batch falls as synthetic images are added (to \
        \(Int((100 * Double(s.realTrain) / Double(s.realTrain + s.largest)).rounded())) % at +\(s.largest)); the counts keep the published \
        ratios (3 000, 6 000, 9 000, 20 000 to 3 475 real) as nested subsets. The published protocol trains 50 epochs, so a larger \
        mix trains longer: it confounds data with compute and does not fit this budget; here every mix trains the same steps. \
        \(s.fixedShare ? "The largest count also streams the real and the synthetic shards as two sources with a fixed real share of \(Int(100 * s.realShare)) % per batch (`--share real=\(s.realShare)`): the same images, their share held fixed." : "")
        - Seeds: \(s.seed)…\(s.seed + UInt64(s.seeds) - 1) for every configuration a claim compares (real-only, each synthetic count, \
        synthetic-only\(s.fixedShare ? ", the fixed share" : "")), \(s.seed)…\(s.seed + UInt64(realOnlyControlSeeds) - 1) for \
        real-only's convergence control, \(s.seed) for the largest mix's, the fine-tuning and the ablations; a seed changes \
        initialisation, data order and augmentation, not the data.
        - Evaluation: Cityscapes instance AP (the official algorithm) at \(s.inputWidth)×\(s.inputHeight), the 100 px minimum region scaled by \
        the area ratio (\(String(format: "%.2f", 100 * Double(s.inputWidth * s.inputHeight) / Double(s.frameWidth * s.frameHeight))) px).
        """
        // The user's datasets replace the generated benchmark's description (the first item).
        return data.map { ([$0] + text.components(separatedBy: "\n- ").dropFirst()).joined(separator: "\n- ") } ?? text
    }

    func markdown(plots: [String], previews: [String], elapsed: Double) -> String {
        """
        # synmix demo: mixed real and synthetic training

        Preset `\(settings.preset)`; this invocation took \(String(format: "%.1f", elapsed / 60)) minutes. \(budgetText) Every number below was \
        computed by these runs (AP ×100); `report.json` holds them all, machine-readable.

        \(stoppedText)

        ## Does the published pattern appear?

        \(checksText)

        ## Table 1: cross-domain AP

        \(table1)

        Published (Cityscapes / Synscapes): trained on real 35.7 on real; trained on one domain and tested on the other about 12. \
        Here the real train set holds the rare classes about once, so over all classes real-only loses on real val for want of \
        examples, not because of the domain: the in-domain claims compare the classes both training sets hold \
        (at least \(DemoResults.sharedClassMinimum) instances each).

        ## Table 2: AP against synthetic images added, at equal steps

        \(table2)

        \(trendText)\(budgetCaveat.map { " **\($0)**: the curve at this budget is not the converged one." } ?? "")

        ![Table 2](\(plots[0]))

        Published: 35.7 → 40.9 as 0 → 20 000 synthetic images are added (uniformly mixed, 50 epochs).

        ## Per class: what synthetic supervision transfers to real images

        Seed means of each class's AP ×100; "kept" is synthetic-only's real val AP as a share of its synthetic val AP (the seed's \
        Table 1 keeps about a third), "÷ real-trained" the same against real-only on real val (– where real-only scores 0).

        \(transferTable)

        ## Per class, real val AP: what the synthetic images lift

        \(perClass)

        ![per class](\(plots[1]))

        ## Training approaches

        \(approaches)
        \(results.all(DemoRun.unfiltered).isEmpty && results.all(DemoRun.unsplit).isEmpty ? "" : "\n## Ablations\n\n" + ablations + "\n")
        ## Training protocol

        \(protocolText)

        ## Filtering the synthetic instances

        \(previews.map { "![preview](\($0))" }.joined(separator: "\n"))

        \(results.filterReport.split(separator: "\n").map { $0.hasPrefix("#") ? "#" + $0 : String($0) }.joined(separator: "\n"))
        """
    }

    public func write(to folder: String, elapsed: Double) throws {
        let plots = ["table2.png", "per-class.png"]
        try plotTable2(to: "\(folder)/\(plots[0])")
        try plotPerClass(to: "\(folder)/\(plots[1])")
        let previews = results.previews.map { $0.hasPrefix(folder + "/") ? String($0.dropFirst(folder.count + 1)) : $0 }
        let text = markdown(plots: plots, previews: previews, elapsed: elapsed)
        try Files.writeAtomically(text, to: "\(folder)/report.md")
        try Files.writeAtomically(html(text), to: "\(folder)/report.html")
        try Files.writeAtomically(results.report(settings: settings, elapsed: elapsed).json.pretty, to: "\(folder)/\(ExperimentReport.fileName)")
    }

    /// report.md as HTML through cmark-gfm (GitHub-flavoured Markdown: tables), in a page
    /// whose wide tables scroll instead of overflowing.
    func html(_ markdown: String) -> String {
        """
        <!doctype html>
        <html><head><meta charset="utf-8"><title>synmix demo report</title>
        <style>body{font-family:sans-serif;max-width:960px;margin:2em auto;line-height:1.4}\
        table{border-collapse:collapse;margin:1em 0;display:block;overflow-x:auto}\
        td,th{border:1px solid #ccc;padding:4px 8px}code{background:#eee}img{max-width:100%}</style>
        </head><body>
        \(Markdown.html(markdown))</body></html>

        """
    }

    /// What Table 2's budget cannot show, or nil: a configuration of the curve whose control says it has not converged.
    var budgetCaveat: String? {
        let unconverged = [DemoRun.realOnly, DemoRun.mixed(results.largest)].map { results.convergence(of: $0) }
            .filter { $0.outcome == .doesNotHold }
        guard !unconverged.isEmpty else { return nil }
        return "Not converged at \(settings.steps) steps: " + unconverged.map {
            String(format: "%@ gains %+.1f AP with %g× the steps", $0.inputs.first!.0, $0.inputs[2].1, DemoPlan.controlFactor)
        }.joined(separator: ", ")
    }
}
