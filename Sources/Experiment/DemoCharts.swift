import Foundation
import Pictures
import SynmixCore
import SynmixFormats

/// The report's two plots, drawn with Pictures' Canvas: Table 2 as a curve with its controls, and per-class AP.
extension DemoReport {
    /// Table 2 as a plot: real val AP against synthetic images added, the seed mean as a line and every seed's
    /// range as an error bar, beside the convergence controls (same seed, more steps).
    func plotTable2(to path: String) throws {
        let (width, height) = (760.0, 460.0)
        let curve = results.curve.filter { $0.ap.count > 0 }
        let controls = [(DemoRun.realOnly, "real only"), (DemoRun.mixed(results.largest), "+\(results.largest)")]
            .map { (label: "\($0.1) \(String(format: "%g", DemoPlan.controlFactor))×", ap: results.realAP(DemoRun.control($0.0))) }
            .filter { $0.ap.count > 0 }
        let values = (curve.flatMap { [$0.ap.min, $0.ap.max] } + controls.flatMap { [$0.ap.min, $0.ap.max] }).filter { !$0.isNaN }
        let low = max(0, floor((values.min() ?? 0) - 2)), high = ceil((values.max() ?? 1) + 2)
        let (left, right, top, bottom) = (70.0, width - 20, 70.0, height - 60)
        // Counts are evenly spaced (they grow geometrically); the controls stand at the right.
        let slots = Double(curve.count + controls.count)
        func x(_ slot: Int) -> Double { left + (right - left) * (Double(slot) + 0.5) / slots }
        func y(_ value: Double) -> Double { bottom - (bottom - top) * (value - low) / max(1e-9, high - low) }
        let canvas = try Canvas(width: Int(width), height: Int(height), background: (1, 1, 1))
        canvas.valueAxis(low: low, high: high, left: left, right: right, y: y)
        canvas.setColor((0.2, 0.2, 0.2))
        canvas.line([(left, top), (left, bottom), (right, bottom)], width: 1)
        for (slot, point) in curve.enumerated() { canvas.centredText("\(point.count)", x: x(slot), y: bottom + 18, size: 12) }
        for (index, control) in controls.enumerated() { canvas.centredText(control.label, x: x(curve.count + index), y: bottom + 18, size: 12) }
        canvas.centredText("synthetic images added to \(settings.realTrain) real (\(settings.steps) steps each)", x: (left + right) / 2,
                           y: height - 22, size: 13)
        canvas.text("AP on real val (×100)", x: 10, y: 30, size: 13)
        canvas.text("Table 2: mean over seeds, bars from the lowest to the highest seed", x: left + 150, y: 30, size: 14)
        if let caveat = budgetCaveat {
            canvas.setColor((0.75, 0.1, 0.1))
            canvas.text(caveat, x: left + 10, y: 52, size: 12)
        }
        func bar(_ slot: Int, _ spread: Spread) {
            guard spread.count > 1 else { return }
            canvas.line([(x(slot), y(spread.min)), (x(slot), y(spread.max))], width: 1.5)
            for value in [spread.min, spread.max] { canvas.line([(x(slot) - 6, y(value)), (x(slot) + 6, y(value))], width: 1.5) }
        }
        canvas.setColor((0.84, 0.37, 0.0))
        canvas.line(curve.enumerated().map { (x($0.offset), y($0.element.ap.mean)) }, width: 2.5)
        for (slot, point) in curve.enumerated() {
            canvas.dot(x: x(slot), y: y(point.ap.mean), radius: 4.5)
            bar(slot, point.ap)
            canvas.text(ap(point.ap.mean), x: x(slot) + 8, y: y(point.ap.mean) - 8, size: 11)
        }
        canvas.setColor((0.12, 0.47, 0.71))
        for (index, control) in controls.enumerated() {
            let slot = curve.count + index
            canvas.dot(x: x(slot), y: y(control.ap.mean), radius: 4.5)
            canvas.text(ap(control.ap.mean), x: x(slot) + 8, y: y(control.ap.mean) - 8, size: 11)
        }
        // The real-only level across the plot: what the mixes must beat.
        let level = results.realAP(DemoRun.realOnly).mean
        if !level.isNaN {
            canvas.setColor((0.5, 0.5, 0.5))
            canvas.line([(left, y(level)), (right, y(level))], width: 1, dash: [5, 4])
        }
        try canvas.writePNG(to: path)
    }

    /// Per-class real val AP, real-only beside the largest mix (seed means): the classes synthetic data lifts.
    func plotPerClass(to path: String) throws {
        let names = classNames
        let series: [(label: String, run: String, color: (Double, Double, Double))] = [
            ("real only", DemoRun.realOnly, (0.12, 0.47, 0.71)),
            ("mixed, +\(results.largest) synthetic", DemoRun.mixed(results.largest), (0.84, 0.37, 0.0)),
        ]
        let (width, height) = (720.0, 400.0)
        let (left, right, top, bottom) = (70.0, width - 20, 70.0, height - 50)
        let means = series.map { s in names.map { name in results.spread(s.run) { $0.real.ap(of: name) }.mean } }
        let high = max(10, ceil((means.flatMap { $0 }.filter { !$0.isNaN }.max() ?? 0) / 10) * 10)
        func y(_ value: Double) -> Double { bottom - (bottom - top) * value / high }
        let groupWidth = (right - left) / Double(max(1, names.count))
        let canvas = try Canvas(width: Int(width), height: Int(height), background: (1, 1, 1))
        canvas.valueAxis(low: 0, high: high, left: left, right: right, y: y)
        canvas.setColor((0.2, 0.2, 0.2))
        canvas.text("Real val AP per class (×100, mean over seeds)", x: left, y: 28, size: 14)
        for (index, s) in series.enumerated() {
            canvas.setColor(s.color)
            for (slot, value) in means[index].enumerated() where !value.isNaN {
                let x0 = left + groupWidth * Double(slot) + groupWidth * (0.15 + 0.35 * Double(index))
                canvas.rectangle(x: x0, y: y(value), width: groupWidth * 0.33, height: bottom - y(value))
            }
            canvas.rectangle(x: left + 10 + 160 * Double(index), y: 38, width: 14, height: 10)
            canvas.setColor((0.1, 0.1, 0.1))
            canvas.text(s.label, x: left + 30 + 160 * Double(index), y: 48, size: 12)
        }
        canvas.setColor((0.1, 0.1, 0.1))
        for (slot, name) in names.enumerated() { canvas.centredText(name, x: left + groupWidth * (Double(slot) + 0.5), y: bottom + 18, size: 12) }
        try canvas.writePNG(to: path)
    }
}
