import CCairo
import Foundation
import SynmixCore

/// report.md, report.html and the plot: every number from the runs of this invocation.
public struct DemoReport {
    public init(results: DemoResults, settings: DemoSettings) {
        self.results = results
        self.settings = settings
    }

    let results: DemoResults
    let settings: DemoSettings

    func ap(_ value: Double) -> String { value.isNaN ? "–" : String(format: "%.1f", 100 * value) }

    /// "mean (seed a, seed b)" of a configuration's score.
    func cell(_ name: String, _ value: (RunResult) -> Double) -> String {
        let runs = results.all(name)
        guard !runs.isEmpty else { return "–" }
        let mean = ap(results.mean(name, value))
        return runs.count == 1 ? mean : mean + " (" + runs.map { ap(value($0)) }.joined(separator: ", ") + ")"
    }

    /// The mean over seeds, without the per-seed values.
    func plain(_ name: String, _ value: (RunResult) -> Double) -> String { ap(results.mean(name, value)) }

    /// Table 1: trained on × evaluated on.
    public var table1: String {
        """
        | trained on ↓ / evaluated on → | real val AP | AP50 | synthetic val AP | AP50 |
        |---|---:|---:|---:|---:|
        | real (\(settings.realTrain) images) | \(cell("real-only") { $0.real.ap }) | \(plain("real-only") { $0.real.ap50 }) | \(cell("real-only") { $0.synthetic.ap }) | \(plain("real-only") { $0.synthetic.ap50 }) |
        | synthetic (\(settings.syntheticTrain) images) | \(cell("synthetic-only") { $0.real.ap }) | \(plain("synthetic-only") { $0.real.ap50 }) | \(cell("synthetic-only") { $0.synthetic.ap }) | \(plain("synthetic-only") { $0.synthetic.ap50 }) |
        """
    }

    /// Table 2: AP on real val against the synthetic images added, both protocols.
    public var table2: String {
        var lines = ["| synthetic images added (published equivalent) | uniformly mixed shards | 50 % real per batch |", "|---|---:|---:|",
                     "| 0 (real only) | \(cell("real-only") { $0.real.ap }) | \(cell("real-only") { $0.real.ap }) |"]
        for (count, published) in zip(results.syntheticCounts, settings.publishedCounts) {
            lines.append("| \(count) (\(published)) | \(cell("uniform-\(count)") { $0.real.ap }) | \(cell("share-\(count)") { $0.real.ap }) |")
        }
        return lines.joined(separator: "\n")
    }

    var approaches: String {
        let largest = results.largest
        var lines = ["| approach | real val AP | AP50 | synthetic val AP |", "|---|---:|---:|---:|"]
        for (label, name) in [("real only", "real-only"), ("synthetic only", "synthetic-only"),
                              ("mixed, +\(largest) synthetic, 50 % real per batch", "share-\(largest)"),
                              ("mixed, +\(largest) synthetic, uniformly mixed shards", "uniform-\(largest)"),
                              ("synthetic pre-training → real fine-tuning", "pretrain-finetune")] {
            lines.append("| \(label) | \(cell(name) { $0.real.ap }) | \(plain(name) { $0.real.ap50 }) | \(plain(name) { $0.synthetic.ap }) |")
        }
        return lines.joined(separator: "\n")
    }

    var ablations: String {
        let largest = results.largest
        var lines = ["| mixed (+\(largest), 50 % real per batch) | real val AP | AP50 |", "|---|---:|---:|"]
        for (label, name) in [("filtered, two-wheelers split (the recipe)", "share-\(largest)"),
                              ("without filtering", "share-\(largest)-unfiltered"),
                              ("without the two-wheeler split", "share-\(largest)-unsplit")] {
            lines.append("| \(label) | \(cell(name) { $0.real.ap }) | \(plain(name) { $0.real.ap50 }) |")
        }
        return lines.joined(separator: "\n")
    }

    var perClass: String {
        let names = results.runs.first?.real.classes.map(\.name) ?? []
        var lines = ["| run (real val) | " + names.joined(separator: " | ") + " |", "|---|" + names.map { _ in "---:" }.joined(separator: "|") + "|"]
        for name in ["real-only", "synthetic-only", "share-\(results.largest)", "uniform-\(results.largest)", "pretrain-finetune"] {
            guard let run = results.all(name).first else { continue }
            lines.append("| \(name) | " + run.real.classes.map { ap($0.ap) }.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }

    public var checksText: String {
        var lines = results.checks.map { "- \($0.holds ? "**holds**" : "**does not hold**"): \($0.claim)" }
        if let spread = results.seedSpread {
            lines.append(String(format: "- seed spread (largest difference between two seeds of one configuration, real val AP): %.1f. "
                                + "Differences smaller than that are not distinguishable from noise here.", 100 * spread))
        }
        return lines.joined(separator: "\n")
    }

    var protocolText: String {
        let s = settings
        return """
        - Data (generated, deterministic from seed \(s.seed)): \(s.realTrain) real train and \(s.realVal) real val frames (Cityscapes layout), \
        \(s.syntheticTrain) synthetic train and \(s.syntheticVal) synthetic val frames (Synscapes layout), all \(s.frameWidth)×\(s.frameHeight); \
        appearance gap \(s.gap). Pipeline: `harmonize` both, `filter-instances` the synthetic set (thresholds calibrated from the real annotations), \
        `pack-mix` at \(s.inputWidth)×\(s.inputHeight).
        - Training: `train-shards fit`, \(s.steps) steps of batch \(s.batch) at \(s.inputWidth)×\(s.inputHeight) for every run (a fixed budget, \
        unlike the published 50 epochs), AdamW, peak lr \(s.learningRate), 10 % linear warm-up then cosine, random scale/crop/flip, one thread per run.
        - Mixing: *uniformly mixed shards* trains on pack-mix's shuffled real + synthetic shards (the published protocol: the real share \
        falls as synthetic images are added); *50 % real per batch* streams the real and the synthetic shards as two sources with \
        `--share real=0.5`. Synthetic counts keep the published ratios (3 000, 6 000, 9 000, 20 000 to 3 475 real).
        - Fine-tuning starts from the synthetic-only model and trains \(s.steps / 2) steps on real at half the rate \
        (so this approach had \(s.steps + s.steps / 2) steps in all, 1.5× the others' budget).
        - Evaluation: Cityscapes instance AP (the official algorithm) at \(s.inputWidth)×\(s.inputHeight), the 100 px minimum region scaled by the \
        area ratio (\(String(format: "%.2f", 100 * Double(s.inputWidth * s.inputHeight) / Double(s.frameWidth * s.frameHeight))) px). \
        Seeds: \(s.seed)\(s.secondSeed ? " and \(s.seed + 1) for real-only and the largest 50 % mix" : ""); a seed changes initialisation, data order and augmentation.
        """
    }

    func markdown(plot: String, previews: [String], elapsed: Double) -> String {
        """
        # synmix demo: mixed real and synthetic training

        Preset `\(settings.preset)`, \(String(format: "%.1f", elapsed / 60)) minutes on this machine. Every number below was computed by this run.

        ## Does the published pattern appear?

        \(checksText)

        ## Table 1: cross-domain AP (×100)

        \(table1)

        Published (Cityscapes / Synscapes): trained on real 35.7 on real; trained on one domain and tested on the other about 12.

        ## Table 2: AP on real val against synthetic images added (×100)

        \(table2)

        ![Table 2](\(plot))

        Published: 35.7 → 40.9 as 0 → 20 000 synthetic images are added (uniformly mixed, 50 epochs).

        ## Four training approaches (×100)

        \(approaches)

        ## Ablations (×100)

        \(ablations)

        ## Per class, real val AP (×100, first seed)

        \(perClass)

        ## Training protocol

        \(protocolText)

        ## Filtering the synthetic instances

        \(previews.map { "![preview](\($0))" }.joined(separator: "\n"))

        \(results.filterReport.split(separator: "\n").map { $0.hasPrefix("#") ? "#" + $0 : String($0) }.joined(separator: "\n"))
        """
    }

    public func write(to folder: String, elapsed: Double) throws {
        let plotName = "table2.png"
        try plotTable2(to: "\(folder)/\(plotName)")
        let previews = results.previews.map { $0.hasPrefix(folder + "/") ? String($0.dropFirst(folder.count + 1)) : $0 }
        let text = markdown(plot: plotName, previews: previews, elapsed: elapsed)
        try Files.writeAtomically(text, to: "\(folder)/report.md")
        try Files.writeAtomically(html(text), to: "\(folder)/report.html")
    }

    /// A small Markdown-to-HTML conversion for what report.md uses: headings, tables, lists, images, paragraphs.
    func html(_ markdown: String) -> String {
        func inline(_ text: String) -> String {
            var t = text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            while let open = t.range(of: "**"), let close = t.range(of: "**", range: open.upperBound..<t.endIndex) {
                t.replaceSubrange(open.lowerBound..<close.upperBound, with: "<b>" + t[open.upperBound..<close.lowerBound] + "</b>")
            }
            while let open = t.range(of: "`"), let close = t.range(of: "`", range: open.upperBound..<t.endIndex) {
                t.replaceSubrange(open.lowerBound..<close.upperBound, with: "<code>" + t[open.upperBound..<close.lowerBound] + "</code>")
            }
            return t
        }
        var body: [String] = [], inTable = false, inList = false
        for raw in markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if inTable && !line.hasPrefix("|") { body.append("</table>"); inTable = false }
            if inList && !line.hasPrefix("- ") { body.append("</ul>"); inList = false }
            if line.hasPrefix("|") {
                let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast().map { $0.trimmingCharacters(in: .whitespaces) }
                if cells.allSatisfy({ $0.allSatisfy { "-:".contains($0) } }) { continue }
                let tag = inTable ? "td" : "th"
                if !inTable { body.append("<table>"); inTable = true }
                body.append("<tr>" + cells.map { "<\(tag)>\(inline($0))</\(tag)>" }.joined() + "</tr>")
            } else if line.hasPrefix("#") {
                let level = min(4, line.prefix { $0 == "#" }.count)
                body.append("<h\(level)>\(inline(line.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces)))</h\(level)>")
            } else if line.hasPrefix("![") , let open = line.firstIndex(of: "("), let close = line.lastIndex(of: ")") {
                body.append("<p><img src=\"\(line[line.index(after: open)..<close])\" style=\"max-width:100%\"></p>")
            } else if line.hasPrefix("- ") {
                if !inList { body.append("<ul>"); inList = true }
                body.append("<li>\(inline(String(line.dropFirst(2))))</li>")
            } else if !line.isEmpty {
                body.append("<p>\(inline(line))</p>")
            }
        }
        if inTable { body.append("</table>") }
        if inList { body.append("</ul>") }
        return """
        <!doctype html>
        <html><head><meta charset="utf-8"><title>synmix demo report</title>
        <style>body{font-family:sans-serif;max-width:960px;margin:2em auto;line-height:1.4}table{border-collapse:collapse;margin:1em 0}\
        td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}code{background:#eee}</style>
        </head><body>
        \(body.joined(separator: "\n"))
        </body></html>

        """
    }

    /// Table 2 as a line plot: real val AP against synthetic images added, both protocols,
    /// with every seed's point and the real-only level.
    func plotTable2(to path: String) throws {
        let (width, height) = (720.0, 440.0)
        guard let surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width), Int32(height)),
              cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS else {
            throw FileError(path: path, reason: "cairo cannot allocate the plot")
        }
        defer { cairo_surface_destroy(surface) }
        let cr = cairo_create(surface)!
        defer { cairo_destroy(cr) }
        cairo_set_source_rgb(cr, 1, 1, 1)
        cairo_paint(cr)
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL)

        let counts = [0] + results.syntheticCounts
        let series: [(label: String, name: (Int) -> String, color: (Double, Double, Double))] = [
            ("uniformly mixed shards (published protocol)", { $0 == 0 ? "real-only" : "uniform-\($0)" }, (0.12, 0.47, 0.71)),
            ("50 % real per batch", { $0 == 0 ? "real-only" : "share-\($0)" }, (0.84, 0.37, 0.0)),
        ]
        let values = results.runs.map { 100 * $0.real.ap }.filter { !$0.isNaN }
        let low = max(0, floor((values.min() ?? 0) - 2)), high = ceil((values.max() ?? 1) + 2)
        let (left, right, top, bottom) = (70.0, width - 20, 50.0, height - 60)
        let maxCount = Double(counts.last!)
        func x(_ count: Int) -> Double { left + (right - left) * Double(count) / max(1, maxCount) }
        func y(_ value: Double) -> Double { bottom - (bottom - top) * (value - low) / max(1e-9, high - low) }
        func text(_ string: String, _ px: Double, _ py: Double, size: Double = 13, centred: Bool = false) {
            cairo_set_font_size(cr, size)
            var extents = cairo_text_extents_t()
            cairo_text_extents(cr, string, &extents)
            cairo_move_to(cr, centred ? px - extents.width / 2 : px, py)
            cairo_show_text(cr, string)
        }
        // Axes, grid and ticks.
        cairo_set_line_width(cr, 1)
        cairo_set_source_rgb(cr, 0.85, 0.85, 0.85)
        let step = max(1, ((high - low) / 6).rounded())
        var tick = low
        while tick <= high {
            cairo_move_to(cr, left, y(tick)); cairo_line_to(cr, right, y(tick)); cairo_stroke(cr)
            tick += step
        }
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2)
        cairo_move_to(cr, left, top); cairo_line_to(cr, left, bottom); cairo_line_to(cr, right, bottom); cairo_stroke(cr)
        tick = low
        while tick <= high { text(String(format: "%.0f", tick), left - 30, y(tick) + 4, size: 12); tick += step }
        for count in counts { text("\(count)", x(count), bottom + 18, size: 12, centred: true) }
        text("synthetic images added to \(settings.realTrain) real", (left + right) / 2, height - 22, centred: true)
        text("AP on real val (×100)", 10, 30, size: 13)
        text("Table 2: mixed training at a fixed budget of \(settings.steps) steps", left + 150, 30, size: 14)
        // One line per protocol through the seed means, every seed as a dot.
        for (index, s) in series.enumerated() {
            let (r, g, b) = s.color
            cairo_set_source_rgb(cr, r, g, b)
            cairo_set_line_width(cr, 2.5)
            var started = false
            for count in counts {
                let mean = 100 * results.mean(s.name(count)) { $0.real.ap }
                guard !mean.isNaN else { continue }
                if started { cairo_line_to(cr, x(count), y(mean)) } else { cairo_move_to(cr, x(count), y(mean)); started = true }
            }
            cairo_stroke(cr)
            for count in counts {
                for run in results.all(s.name(count)) {
                    cairo_arc(cr, x(count), y(100 * run.real.ap), 4, 0, 2 * Double.pi)
                    cairo_fill(cr)
                }
            }
            let legendY = bottom - 20 - 20 * Double(index)
            cairo_move_to(cr, right - 340, legendY - 4); cairo_line_to(cr, right - 310, legendY - 4); cairo_stroke(cr)
            cairo_set_source_rgb(cr, 0.1, 0.1, 0.1)
            text(s.label, right - 302, legendY, size: 12)
        }
        cairo_surface_flush(surface)
        let temporary = path + ".tmp"
        guard cairo_surface_write_to_png(surface, temporary) == CAIRO_STATUS_SUCCESS else {
            throw FileError(path: path, reason: "cairo could not write the PNG")
        }
        guard rename(temporary, path) == 0 else { throw FileError(path: path, reason: "cannot rename \(temporary)") }
    }
}
