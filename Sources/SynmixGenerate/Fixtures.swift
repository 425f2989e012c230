import Foundation
import SynmixCore
import SynmixFormats

/// The committed fixtures (`fixtures/`): a few frames of each dataset in the
/// exact original layouts, full-size and small, whose scenes exercise every
/// harmonize and filter rule. Deterministic: regenerating gives the same bytes.
public enum Fixtures {
    /// Where `synmix-generate fixtures` writes them: the repository's own folder, run from its root.
    public static let defaultFolder = "fixtures"

    public static func write(to folder: String) throws {
        try writeCityscapes(root: "\(folder)/cityscapes")
        try writeSynscapes(root: "\(folder)/synscapes")
    }

    /// Objects every fixture scene carries, placed by hand so that each rule is hit.
    static func scripted(_ builder: StreetSceneBuilder, seed: UInt64, real: Bool) -> Scene {
        var random = SplitMix64(seed: Seed.derive(seed, "scripted-objects"))
        var scene = builder.build(seed: seed)
        let w = Double(builder.width)
        func place(_ metaClass: Int, _ x: Double, _ depth: Double) -> SceneObject {
            builder.makeObject(metaClass: metaClass, random: &random, at: (w * x, depth))
        }
        // One of each instance class (meta classes: 32/33 carry a rider).
        // Small classes nearest, large vehicles farther, so that each stays visible.
        let layout: [(metaClass: Int, x: Double, depth: Double)] = [
            (Labels.person, 0.06, 10), (Labels.car, 0.2, 16), (Labels.truck, 0.33, 22), (Labels.bus, 0.5, 24), (Labels.train, 0.72, 28), (Labels.motorcycle, 0.6, 10), (Labels.bicycle, 0.86, 10),
        ]
        var objects = layout.map { place($0.metaClass, $0.x, $0.depth) }
        objects.append(place(Labels.caravan, 0.55, 24))             // caravan: ignored, not an instance class
        objects.append(place(Labels.trailer, 0.72, 26))             // trailer
        objects.append(place(Labels.person, 0.95, 140))            // a tiny far pedestrian
        objects.append(place(Labels.car, 0.4, 30))              // a car ...
        objects.append(place(Labels.bus, 0.41, 19))             // ... mostly hidden behind a nearer bus
        objects.append(place(Labels.person, 0.42, 28))             // a pedestrian completely behind the bus
        objects.append(place(Labels.car, 0.995, 16))            // truncated at the right border
        if real {
            // Crowds annotated as group regions: three pedestrians, two cars.
            for k in 0..<3 {
                var person = place(Labels.person, 0.13 + 0.02 * Double(k), 18)
                person.annotation = .group
                objects.append(person)
            }
            for k in 0..<2 {
                var car = place(Labels.car, 0.36 + 0.05 * Double(k), 20)
                car.annotation = .group
                objects.append(car)
            }
        } else {
            // Instance-class pixels that the renderer left without an instance id.
            var stray = place(Labels.car, 0.85, 35)
            stray.annotation = .unlabeled
            objects.append(stray)
        }
        scene.objects = (scene.objects + objects).sorted { $0.depth > $1.depth }
        if real { scene.overlays = DatasetGenerator.realOverlays(width: builder.width, height: builder.height) }
        return scene
    }

    static func writeCityscapes(root: String) throws {
        let policy = AnnotatorPolicy(minVisiblePixels: 12, minVisibleFraction: 0.15)
        let writer = CityscapesWriter(root: root, appearance: .fixtureReal, policy: policy)
        let frames: [(split: Split, city: String, width: Int, height: Int)] = [
            (.train, "aachen", 2048, 1024), (.train, "bochum", 512, 256), (.train, "bochum", 512, 256),
            (.val, "frankfurt", 512, 256), (.val, "frankfurt", 512, 256),
        ]
        for (index, frame) in frames.enumerated() {
            let builder = StreetSceneBuilder(width: frame.width, height: frame.height)
            try writer.write(scripted(builder, seed: 1000 + UInt64(index), real: true),
                             split: frame.split, city: frame.city, sequence: index, frame: 19 * (index + 1), seed: UInt64(index))
        }
        // Test frames in Cityscapes carry no labels but the void ego vehicle and border.
        let width = 512, height = 256
        let unlabeled = Scene(width: width, height: height, stuff: [Region(labelId: Labels.unlabeled, polygon: rect(0, 0, Double(width), Double(height)))],
                              overlays: DatasetGenerator.realOverlays(width: width, height: height))
        try writer.write(unlabeled, split: .test, city: "berlin", sequence: 0, frame: 19, seed: 99)
    }

    static func writeSynscapes(root: String) throws {
        let writer = SynscapesWriter(root: root, appearance: .fixtureSynthetic)
        let sizes = [(1440, 720), (480, 240), (480, 240), (480, 240), (480, 240)]
        for (index, size) in sizes.enumerated() {
            let builder = StreetSceneBuilder(width: size.0, height: size.1)
            try writer.write(scripted(builder, seed: 2000 + UInt64(index), real: false), number: index + 1, seed: UInt64(index))
        }
    }
}
