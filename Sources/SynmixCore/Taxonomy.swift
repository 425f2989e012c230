import Foundation
import Yams

/// The unified classes every stage after the readers speaks (mappings/taxonomy.yaml).
public struct Taxonomy: Sendable, Equatable {
    public struct Class: Sendable, Equatable {
        public var name: String
        public var id: Int
        public var color: [Int]      // RGB, 0...255
        public var hasInstances: Bool
    }

    /// Rows in id order (ids are contiguous from 0).
    public var classes: [Class]
    public var sha256: String

    public func classId(named name: String) -> Int? { classes.firstIndex { $0.name == name } }

    /// Loads and validates a taxonomy file; errors name the file and line.
    public init(contentsOf path: String) throws {
        let (root, text) = try YAMLFile.load(path)
        sha256 = SHA256Hasher.hex(Array(text.utf8))
        let file = YAMLFile(path: path)
        guard let rows = root["classes"], case .sequence = rows else {
            throw file.error(root, "expected a top-level 'classes:' list")
        }
        var classes: [Class] = []
        for row in rows.array() {
            let name = try file.string(row, "name")
            guard name != "background", name != "ignore" else {
                throw file.error(row, "'\(name)' is reserved for mapping targets and cannot be a class")
            }
            guard !classes.contains(where: { $0.name == name }) else {
                throw file.error(row, "class '\(name)' is listed twice")
            }
            let id = try file.int(row, "id")
            guard id == classes.count else {
                throw file.error(row, "class '\(name)' has id \(id); ids must be contiguous from 0 in file order (expected \(classes.count))")
            }
            guard let colorNode = row["color"], case .sequence = colorNode,
                  colorNode.array().count == 3,
                  let color = Optional(colorNode.array().compactMap(\.int)), color.count == 3,
                  color.allSatisfy({ (0...255).contains($0) }) else {
                throw file.error(row, "class '\(name)': 'color' must be [R, G, B] with values 0...255")
            }
            guard let instances = row["instances"]?.bool else {
                throw file.error(row, "class '\(name)': 'instances' must be true or false")
            }
            classes.append(Class(name: name, id: id, color: color, hasInstances: instances))
        }
        guard !classes.isEmpty else { throw file.error(rows, "the taxonomy has no classes") }
        self.classes = classes
    }
}

/// Where a source label goes in the unified taxonomy.
public enum MappingTarget: Sendable, Equatable, Hashable {
    case unified(Int)   // a taxonomy class id
    case background
    case ignore
}

/// One mapping file (mappings/cityscapes.yaml, mappings/synscapes.yaml): a
/// table of source label ids to unified classes, from which every lookup is
/// derived, plus an optional table for per-instance source classes
/// (Synscapes' meta `class`, which has its own vocabulary).
public struct LabelMapping: Sendable {
    public struct Row: Sendable, Equatable {
        public var id: Int
        public var name: String
        public var target: MappingTarget
    }

    public var source: String
    public var labels: [Int: Row]
    public var instanceClasses: [Int: Row]
    public var sha256: String
    public var path: String

    public func target(ofLabel id: Int) -> MappingTarget? { labels[id]?.target }

    /// Loads a mapping file and checks every target against the taxonomy.
    public init(contentsOf path: String, taxonomy: Taxonomy) throws {
        let (root, text) = try YAMLFile.load(path)
        self.path = path
        sha256 = SHA256Hasher.hex(Array(text.utf8))
        let file = YAMLFile(path: path)
        source = try file.string(root, "source")
        guard let labelRows = root["labels"], case .sequence = labelRows else {
            throw file.error(root, "expected a 'labels:' list")
        }
        labels = try Self.table(labelRows, file: file, taxonomy: taxonomy)
        if let instanceRows = root["instance_classes"] {
            guard case .sequence = instanceRows else { throw file.error(instanceRows, "'instance_classes' must be a list") }
            instanceClasses = try Self.table(instanceRows, file: file, taxonomy: taxonomy)
        } else {
            instanceClasses = [:]
        }
    }

    private static func table(_ rows: Node, file: YAMLFile, taxonomy: Taxonomy) throws -> [Int: Row] {
        var table: [Int: Row] = [:]
        for row in rows.array() {
            let id = try file.int(row, "id")
            let name = try file.string(row, "name")
            let to = try file.string(row, "to")
            guard table[id] == nil else { throw file.error(row, "source id \(id) is mapped twice") }
            let target: MappingTarget
            switch to {
            case "background": target = .background
            case "ignore": target = .ignore
            default:
                guard let classId = taxonomy.classId(named: to) else {
                    let known = taxonomy.classes.map(\.name).joined(separator: ", ")
                    throw file.error(row, "'\(to)' is not a class of the taxonomy (\(known)) nor background or ignore")
                }
                target = .unified(classId)
            }
            table[id] = Row(id: id, name: name, target: target)
        }
        return table
    }
}

public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var line: Int?
    public var reason: String
    public init(file: String, line: Int?, reason: String) {
        self.file = file
        self.line = line
        self.reason = reason
    }
    public var description: String { line.map { "\(file):\($0): \(reason)" } ?? "\(file): \(reason)" }
}

/// YAML access with errors that carry the file and line of the offending node.
struct YAMLFile {
    let path: String

    static func load(_ path: String) throws -> (Node, String) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(file: path, line: nil, reason: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(file: path, line: nil, reason: "not UTF-8 text")
        }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigurationError(file: path, line: Self.line(of: error), reason: "not valid YAML: \(error)")
        }
        guard let node, case .mapping = node else {
            throw ConfigurationError(file: path, line: nil, reason: "expected a YAML mapping at the top level")
        }
        return (node, text)
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return nil
        }
    }

    func error(_ node: Node, _ reason: String) -> ConfigurationError {
        ConfigurationError(file: path, line: node.mark?.line, reason: reason)
    }

    func string(_ node: Node, _ key: String) throws -> String {
        guard let value = node[key], case .scalar = value, let text = value.string, !text.isEmpty else {
            throw error(node, "missing or empty '\(key)'")
        }
        return text
    }

    func int(_ node: Node, _ key: String) throws -> Int {
        guard let value = node[key]?.int else { throw error(node, "missing or non-integer '\(key)'") }
        return value
    }
}
