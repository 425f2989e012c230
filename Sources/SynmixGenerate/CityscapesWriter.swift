import CityscapesLabels
import Foundation
import SynmixCore
import SynmixFormats

/// How the real dataset's human annotators treated objects: too small or
/// mostly hidden ones were left unlabelled (void).
public struct AnnotatorPolicy: Sendable {
    public var minVisiblePixels: Int
    public var minVisibleFraction: Double
    public init(minVisiblePixels: Int, minVisibleFraction: Double) {
        self.minVisiblePixels = minVisiblePixels
        self.minVisibleFraction = minVisibleFraction
    }
}

/// Writes a scene in the Cityscapes layout: leftImg8bit, and gtFine's
/// instanceIds (16-bit), labelIds (8-bit), color (RGBA) and polygons.json.
public struct CityscapesWriter: Sendable {
    public var root: String
    public var appearance: Appearance
    public var policy: AnnotatorPolicy
    public var pngLevel = 9

    public init(root: String, appearance: Appearance, policy: AnnotatorPolicy) {
        self.root = root
        self.appearance = appearance
        self.policy = policy
    }

    /// Writes one frame; returns the base name `CITY_SSSSSS_FFFFFF`.
    @discardableResult
    public func write(_ scene: Scene, split: Split, city: String, sequence: Int, frame: Int, seed: UInt64) throws -> String {
        let base = "\(city)_\(pad(sequence))_\(pad(frame))"
        let painted = PaintedScene(scene)
        let (w, h) = (scene.width, scene.height)

        // The annotator's decision per object.
        let annotation: [Annotation] = scene.objects.indices.map { index in
            let object = scene.objects[index]
            guard object.annotation == .instance else { return object.annotation }
            let visible = painted.visiblePixels[index], inside = painted.insideImagePixels[index]
            if visible < policy.minVisiblePixels || Double(visible) < policy.minVisibleFraction * Double(max(inside, 1)) {
                return .unlabeled
            }
            return .instance
        }
        // Instance ids: label * 1000 + a per-label counter in object order; the parts of
        // one object with one label (an outline and its details) share an id.
        var counters: [Int: Int] = [:]
        var instanceOfObjectLabel: [Int: UInt16] = [:]
        var partValue: [UInt16] = []
        for (object, part) in painted.parts {
            let label = scene.objects[object].parts[part].labelId
            switch annotation[object] {
            case .instance:
                if let id = instanceOfObjectLabel[object * 256 + label] {
                    partValue.append(id)
                    continue
                }
                let k = counters[label, default: 0]
                counters[label] = k + 1
                instanceOfObjectLabel[object * 256 + label] = UInt16(label * 1000 + k)
                partValue.append(UInt16(label * 1000 + k))
            case .group: partValue.append(UInt16(label))
            case .unlabeled: partValue.append(0)
            }
        }
        var ids = Raster<UInt16>(width: w, height: h, channels: 1)
        var labels = Raster<UInt8>(width: w, height: h, channels: 1)
        var colors = Raster<UInt8>(width: w, height: h, channels: 4)
        for index in 0..<(w * h) {
            let value: UInt16
            if painted.overlay[index] != 0 {
                value = UInt16(painted.overlay[index])
            } else if painted.owner[index] >= 0 {
                value = partValue[Int(painted.owner[index])]
            } else {
                value = UInt16(painted.stuffLabel[index])
            }
            ids.samples[index] = value
            let label = value >= 1000 ? Int(value) / 1000 : Int(value)
            labels.samples[index] = UInt8(label)
            let color = CityscapesLabel.byId[label]?.color ?? [0, 0, 0]
            colors.samples[index * 4] = color[0]
            colors.samples[index * 4 + 1] = color[1]
            colors.samples[index * 4 + 2] = color[2]
            colors.samples[index * 4 + 3] = 255
        }

        let imageFolder = "\(root)/leftImg8bit/\(split.rawValue)/\(city)", labelFolder = "\(root)/gtFine/\(split.rawValue)/\(city)"
        try Files.createDirectory(imageFolder)
        try Files.createDirectory(labelFolder)
        let rgb = appearance.render(painted, seed: seed)
        try Files.writeAtomically(try PNGCodec.encode(rgb, level: pngLevel), to: "\(imageFolder)/\(base)_leftImg8bit.png")
        try Files.writeAtomically(try PNGCodec.encode(ids, level: pngLevel), to: "\(labelFolder)/\(base)_gtFine_instanceIds.png")
        try Files.writeAtomically(try PNGCodec.encode(labels, level: pngLevel), to: "\(labelFolder)/\(base)_gtFine_labelIds.png")
        try Files.writeAtomically(try PNGCodec.encode(colors, level: pngLevel), to: "\(labelFolder)/\(base)_gtFine_color.png")
        try Files.writeAtomically(polygons(scene, annotation).pretty, to: "\(labelFolder)/\(base)_gtFine_polygons.json")
        return base
    }

    /// polygons.json as cityscapesScripts' Annotation class reads it: stuff, then
    /// objects far to near, then void overlays; groups carry the "group" suffix.
    private func polygons(_ scene: Scene, _ annotation: [Annotation]) -> JSON {
        func entry(_ label: String, _ polygon: [Point]) -> JSON {
            .object([("label", .string(label)),
                      ("polygon", .array(polygon.map { .array([.int(Int($0.x.rounded())), .int(Int($0.y.rounded()))]) }))])
        }
        var objects = scene.stuff.map { entry(CityscapesLabel.byId[$0.labelId]?.name ?? "unlabeled", $0.polygon) }
        for (index, object) in scene.objects.enumerated() where annotation[index] != .unlabeled {
            for part in object.parts where !part.isDetail {
                let name = CityscapesLabel.byId[part.labelId]?.name ?? "unlabeled"
                objects.append(entry(annotation[index] == .group ? name + "group" : name, part.polygon))
            }
        }
        objects += scene.overlays.map { entry(CityscapesLabel.byId[$0.labelId]?.name ?? "unlabeled", $0.polygon) }
        return .object([("imgHeight", .int(scene.height)), ("imgWidth", .int(scene.width)), ("objects", .array(objects))])
    }

    private func pad(_ number: Int) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }
}
