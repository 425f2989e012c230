import Foundation
import SynmixCore
import Yams

/// One filter rule. Each has a name (its key in the thresholds file and the
/// report), a neutral value at which it removes nothing, and a kind.
public enum FilterRule: String, CaseIterable, Sendable, Comparable {
    case minArea = "min_area"
    case minHeight = "min_height"
    case minWidth = "min_width"
    case maxOcclusion = "max_occlusion"
    case maxTruncation = "max_truncation"
    case minVisibleFraction = "min_visible_fraction"

    public var neutral: Double {
        switch self {
        case .minArea, .minHeight, .minWidth, .minVisibleFraction: 0
        case .maxOcclusion, .maxTruncation: 1
        }
    }

    /// Pixel counts (any value >= 0) rather than fractions (0...1).
    public var isPixels: Bool { self == .minArea || self == .minHeight || self == .minWidth }

    public static func < (a: FilterRule, b: FilterRule) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// Why a value is unacceptable for this rule, or nil.
    func problem(with value: Double) -> String? {
        guard value.isFinite else { return "\(rawValue) must be a finite number" }
        if isPixels { return value < 0 ? "\(rawValue) is \(value): pixels cannot be negative" : nil }
        return (0...1).contains(value) ? nil : "\(rawValue) is \(value): a fraction must lie within 0...1"
    }
}

/// The effective thresholds: defaults for every rule plus per-class overrides
/// (mappings/filters/default.yaml). Per-class values win over defaults for their class.
public struct ThresholdTable: Sendable, Equatable {
    public var defaults: [FilterRule: Double]
    public var classes: [String: [FilterRule: Double]]

    public init(defaults: [FilterRule: Double] = [:], classes: [String: [FilterRule: Double]] = [:]) {
        self.defaults = Dictionary(uniqueKeysWithValues: FilterRule.allCases.map { ($0, defaults[$0] ?? $0.neutral) })
        self.classes = classes
    }

    public func value(_ rule: FilterRule, for className: String) -> Double {
        classes[className]?[rule] ?? defaults[rule]!
    }

    /// Command-line values replace the file's defaults; per-class entries still win.
    public mutating func override(_ values: [FilterRule: Double]) throws {
        for (rule, value) in values {
            if let problem = rule.problem(with: value) { throw ConfigurationError(file: "command line", line: nil, reason: problem) }
            defaults[rule] = value
        }
    }

    /// Loads a thresholds file, checking rule names, class names and ranges.
    public init(contentsOf path: String, taxonomy: Taxonomy) throws {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(file: path, line: nil, reason: "cannot read the file")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError(file: path, line: nil, reason: "not valid YAML: \(error)")
        }
        guard let root, case .mapping(let top) = root else {
            throw ConfigurationError(file: path, line: nil, reason: "expected a mapping with 'defaults' and 'classes'")
        }
        func fail(_ node: Node, _ reason: String) -> ConfigurationError {
            ConfigurationError(file: path, line: node.mark?.line, reason: reason)
        }
        func rules(_ node: Node, context: String) throws -> [FilterRule: Double] {
            guard case .mapping(let mapping) = node else { throw fail(node, "\(context) must be a mapping of rule: value") }
            var values: [FilterRule: Double] = [:]
            for (key, value) in mapping {
                guard let name = key.string, let rule = FilterRule(rawValue: name) else {
                    let known = FilterRule.allCases.map(\.rawValue).joined(separator: ", ")
                    throw fail(key, "unknown rule '\(key.string ?? "?")' in \(context) (rules: \(known))")
                }
                guard let number = value.float ?? value.int.map(Double.init) else {
                    throw fail(value, "\(name) in \(context) must be a number")
                }
                if let problem = rule.problem(with: number) { throw fail(value, problem) }
                values[rule] = number
            }
            return values
        }
        var defaults: [FilterRule: Double] = [:]
        var classes: [String: [FilterRule: Double]] = [:]
        for (key, value) in top {
            switch key.string {
            case "defaults": defaults = try rules(value, context: "defaults")
            case "classes":
                guard case .mapping(let entries) = value else { throw fail(value, "'classes' must map class names to rules") }
                for (name, overrides) in entries {
                    guard let className = name.string, taxonomy.classId(named: className) != nil else {
                        let known = taxonomy.classes.map(\.name).joined(separator: ", ")
                        throw fail(name, "unknown class '\(name.string ?? "?")' (taxonomy classes: \(known))")
                    }
                    classes[className] = try rules(overrides, context: "classes.\(className)")
                }
            default:
                throw fail(key, "unknown key '\(key.string ?? "?")': expected 'defaults' and 'classes'")
            }
        }
        self.init(defaults: defaults, classes: classes)
    }

    /// The table in the thresholds-file schema, classes in taxonomy order.
    public func yaml(taxonomy: Taxonomy, header: String) -> String {
        func format(_ rule: FilterRule, _ value: Double) -> String {
            rule.isPixels && value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : value.description
        }
        var out = header.split(separator: "\n", omittingEmptySubsequences: false).map { "# \($0)" }.joined(separator: "\n") + "\n"
        out += "defaults:\n"
        for rule in FilterRule.allCases { out += "  \(rule.rawValue): \(format(rule, defaults[rule]!))\n" }
        let named = taxonomy.classes.map(\.name).filter { !(classes[$0]?.isEmpty ?? true) }
        out += named.isEmpty ? "classes: {}\n" : "classes:\n"
        for name in named {
            let entries = classes[name]!.keys.sorted().map { "\($0.rawValue): \(format($0, classes[name]![$0]!))" }
            out += "  \(name): {\(entries.joined(separator: ", "))}\n"
        }
        return out
    }
}
