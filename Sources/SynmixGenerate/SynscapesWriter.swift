import Foundation
import SynmixCore

/// Writes a scene in the Synscapes layout: img/rgb, img/class (label ids),
/// img/instance (id = R + 256·G + 65536·B) and meta/N.json with every
/// object's class, occlusion, truncation and boxes. A renderer labels every
/// object, however small or hidden; a rider and its two-wheeler share one
/// instance (meta class 32/33) while the class PNG marks the rider's pixels 25.
/// img/depth (OpenEXR) is not written: no synmix stage reads it.
public struct SynscapesWriter: Sendable {
    public var root: String
    public var appearance: Appearance
    public var pngLevel = 9

    public init(root: String, appearance: Appearance) {
        self.root = root
        self.appearance = appearance
    }

    public func write(_ scene: Scene, number: Int, seed: UInt64) throws {
        let painted = PaintedScene(scene)
        let (w, h) = (scene.width, scene.height)
        // Instance ids class·100000 + k, the pattern seen in real meta files.
        var counters: [Int: Int] = [:]
        let objectIds: [Int] = scene.objects.map { object in
            guard object.annotation != .unlabeled else { return 0 }
            let k = counters[object.metaClass, default: 0] + 1
            counters[object.metaClass] = k
            return object.metaClass * 100_000 + k
        }
        var classes = Raster<UInt8>(width: w, height: h, channels: 1)
        var instances = Raster<UInt8>(width: w, height: h, channels: 3)
        for index in 0..<(w * h) {
            classes.samples[index] = UInt8(painted.label(at: index))
            if painted.overlay[index] == 0 && painted.owner[index] >= 0 {
                let id = objectIds[painted.parts[Int(painted.owner[index])].object]
                instances.samples[index * 3] = UInt8(id & 0xff)
                instances.samples[index * 3 + 1] = UInt8((id >> 8) & 0xff)
                instances.samples[index * 3 + 2] = UInt8(id >> 16)
            }
        }
        for folder in ["img/rgb", "img/class", "img/instance", "meta"] { try Files.createDirectory("\(root)/\(folder)") }
        let rgb = appearance.render(painted, seed: seed)
        try Files.writeAtomically(try PNGCodec.encode(rgb, level: pngLevel), to: "\(root)/img/rgb/\(number).png")
        try Files.writeAtomically(try PNGCodec.encode(classes, level: pngLevel), to: "\(root)/img/class/\(number).png")
        try Files.writeAtomically(try PNGCodec.encode(instances, level: pngLevel), to: "\(root)/img/instance/\(number).png")
        try Files.writeAtomically(meta(scene, painted, objectIds, seed: seed).pretty, to: "\(root)/meta/\(number).json")
    }

    private func meta(_ scene: Scene, _ painted: PaintedScene, _ objectIds: [Int], seed: UInt64) -> JSON {
        let (w, h) = (Double(scene.width), Double(scene.height))
        var entries: [(key: String, bbox2d: JSON, bbox3d: JSON, cls: Int, occluded: Double, truncated: Double)] = []
        for (index, object) in scene.objects.enumerated() where objectIds[index] != 0 {
            let bounds = object.bounds
            let inside = painted.insideImagePixels[index], amodal = max(painted.amodalPixels[index], 1)
            let occluded = inside == 0 ? 1 : 1 - Double(painted.visiblePixels[index]) / Double(inside)
            let truncated = 1 - Double(min(inside, amodal)) / Double(amodal)
            // A cuboid consistent with the silhouette: pixel extents back-projected at the object's depth.
            let focal = 1590.83437 * w / 1440
            let metresPerPixel = object.depth / focal
            let lateral = -((bounds.minX + bounds.maxX) / 2 - w / 2) * metresPerPixel
            let length = (bounds.maxX - bounds.minX) * metresPerPixel, tall = (bounds.maxY - bounds.minY) * metresPerPixel
            entries.append((
                key: String(objectIds[index]),
                bbox2d: .object([("xmax", r5(bounds.maxX / w)), ("xmin", r5(bounds.minX / w)),
                                 ("ymax", r5(bounds.maxY / h)), ("ymin", r5(bounds.minY / h)),
                                 ("zmax", r5(object.depth + 0.6)), ("zmin", r5(object.depth - 0.6))]),
                bbox3d: .object([("origin", .array([r5(object.depth), r5(lateral + length / 2), r5(0)])),
                                 ("x", .array([r5(-1.2), r5(0), r5(0)])), ("y", .array([r5(0), r5(-length), r5(0)])),
                                 ("z", .array([r5(0), r5(0), r5(tall)]))]),
                cls: object.metaClass, occluded: occluded, truncated: truncated))
        }
        entries.sort { $0.key < $1.key }   // Python's sort_keys: ids sort as strings
        var random = SplitMix64(seed: Seed.derive(seed, "scene-metadata"))
        let sceneKeys = ["altitude_variation", "curb_height"]
            + ["bicyclists", "buses", "cars", "motorcyclists", "pedestrians", "trains", "trucks"]
                .flatMap { ["dist_\($0)_mean", "dist_\($0)_stddev"] }
            + ["ego_speed", "fence_height", "fence_presence", "median_presence"]
            + ["bicyclists", "buses", "cars", "motorcyclists", "pedestrians", "trains", "trucks"].map { "num_\($0)" }
            + ["parking_angle", "parking_presence", "rel_dist_to_isect", "sidewalk_width", "sky_contrast",
               "sun_height", "wall_height", "wall_presence"]
        let sceneFields: [(String, JSON)] = sceneKeys.sorted().map { key in
            if key.hasPrefix("num_") { return (key, .int(Int(random.next() % 12))) }
            if key.hasSuffix("_presence") { return (key, .int(Int(random.next() % 2))) }
            if key == "parking_angle" { return (key, .int([0, 45, 90][Int(random.next() % 3)])) }
            return (key, r5(random.unit() * 10))
        }
        return .object([
            ("camera", .object([
                ("extrinsic", .object([("pitch", .double(0.038)), ("roll", .double(-0.0)), ("x", .double(1.7)),
                                       ("y", .double(0.1)), ("yaw", .double(-0.0195)), ("z", .double(1.22))])),
                ("intrinsic", .object([("fx", .double(1590.83437)), ("fy", .double(1592.79032)),
                                       ("resx", .int(scene.width)), ("resy", .int(scene.height)),
                                       ("u0", .double(771.31406)), ("v0", .double(360.79945))])),
            ])),
            ("instance", .object([
                ("bbox2d", .object(entries.map { ($0.key, $0.bbox2d) })),
                ("bbox3d", .object(entries.map { ($0.key, $0.bbox3d) })),
                ("class", .object(entries.map { ($0.key, .int($0.cls)) })),
                ("occluded", .object(entries.map { ($0.key, r5($0.occluded)) })),
                ("truncated", .object(entries.map { ($0.key, r5($0.truncated)) })),
            ])),
            ("scene", .object(sceneFields)),
        ])
    }

    /// Rounded to 5 decimals, as the real meta files are.
    private func r5(_ value: Double) -> JSON { .double((value * 100_000).rounded() / 100_000) }
}
