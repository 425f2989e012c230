import SynmixCore
import SynmixFormats

extension InstanceEvaluator.Result {
    /// The official script's table (printResults, colorized off).
    public var table: String {
        func number(_ value: Double) -> String {
            value.isNaN ? "nan" : String(format: "%.3f", value)
        }
        func pad(_ text: String, _ width: Int, left: Bool) -> String {
            let padding = String(repeating: " ", count: max(0, width - text.count))
            return left ? text + padding : padding + text
        }
        var lines = [String(repeating: "#", count: 50),
                     pad("what", 15, left: true) + ":" + pad("AP", 15, left: false) + pad("AP_50%", 15, left: false),
                     String(repeating: "#", count: 50)]
        for (c, name) in classNames.enumerated() {
            lines.append(pad(name, 15, left: true) + ":" + pad(number(classAP(c)), 15, left: false) + pad(number(classAP50(c)), 15, left: false))
        }
        lines.append(String(repeating: "-", count: 50))
        lines.append(pad("average", 15, left: true) + ":" + pad(number(meanAP), 15, left: false) + pad(number(meanAP50), 15, left: false))
        return lines.joined(separator: "\n")
    }

    /// The result in its file format (SynmixFormats' EvaluationResult).
    public var file: EvaluationResult {
        EvaluationResult(images: images, ap: meanAP, ap50: meanAP50,
                         classes: classNames.enumerated().map { c, name in
                             EvaluationResult.ClassScore(name: name, ap: classAP(c), ap50: classAP50(c), apPerOverlap: ap[c])
                         },
                         overlaps: InstanceEvaluator.overlaps)
    }
}
