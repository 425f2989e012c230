import SynmixCore

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

    /// Every number as JSON; NaN (a class without ground truth) is written as null.
    public func json(extra: [(String, JSON)] = []) -> JSON {
        func value(_ x: Double) -> JSON { x.isNaN ? .null : .double(x) }
        return .object([
            ("metric", .string("cityscapes-instance-ap")),
            ("images", .int(images)),
            ("ap", value(meanAP)), ("ap50", value(meanAP50)),
            ("classes", .object(classNames.enumerated().map { c, name in
                (name, .object([("ap", value(classAP(c))), ("ap50", value(classAP50(c))),
                                ("ap_per_overlap", .array(ap[c].map(value)))]))
            })),
            ("overlaps", .array(InstanceEvaluator.overlaps.map { .double($0) })),
        ] + extra)
    }
}

/// The numbers of an evaluation result as `json(extra:)` writes them, read
/// back (by the demo and anyone scoring runs): mean and per-class AP and AP50,
/// NaN where the file has null.
public struct EvaluationSummary: Sendable, Equatable {
    public struct ClassScore: Sendable, Equatable {
        public var name: String
        public var ap: Double
        public var ap50: Double
    }
    public var images: Int
    public var ap: Double
    public var ap50: Double
    public var classes: [ClassScore]

    public init(json value: JSON, file: String) throws {
        func fail(_ reason: String) -> FileError { FileError(path: file, reason: "evaluation result: \(reason)") }
        func number(_ raw: JSON?, _ what: String) throws -> Double {
            guard let raw else { throw fail("missing '\(what)'") }
            if raw.isNull { return .nan }
            guard let x = raw.doubleValue else { throw fail("'\(what)' is not a number") }
            return x
        }
        guard value["metric"]?.stringValue == "cityscapes-instance-ap", let images = value["images"]?.intValue else {
            throw fail("not a cityscapes-instance-ap result")
        }
        guard case .object(let pairs)? = value["classes"] else { throw fail("missing 'classes'") }
        self.images = images
        ap = try number(value["ap"], "ap")
        ap50 = try number(value["ap50"], "ap50")
        classes = try pairs.map { name, scores in
            ClassScore(name: name, ap: try number(scores["ap"], "\(name).ap"), ap50: try number(scores["ap50"], "\(name).ap50"))
        }
    }

    public func ap(of className: String) -> Double { classes.first { $0.name == className }?.ap ?? .nan }
}
