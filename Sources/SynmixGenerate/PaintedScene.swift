import SynmixCore

/// A scene painted into per-pixel ownership: which stuff label, which object
/// part, or which void overlay each pixel shows. Both dataset writers derive
/// their label files from this one painting, so the two layouts describe the
/// same pixels.
struct PaintedScene {
    let scene: Scene
    var stuffLabel: [UInt8]
    /// Index into `parts` of the object part visible at a pixel, or -1.
    var owner: [Int32]
    /// Void overlay label at a pixel, or 0 (none).
    var overlay: [UInt8]
    /// (object index, part index) for every part in painting order.
    var parts: [(object: Int, part: Int)] = []
    var visiblePixels: [Int]          // per object
    var insideImagePixels: [Int]      // per object, as if nothing occluded it
    var amodalPixels: [Int]           // per object, on an unbounded canvas

    init(_ scene: Scene) {
        self.scene = scene
        let (w, h) = (scene.width, scene.height)
        stuffLabel = [UInt8](repeating: 0, count: w * h)
        owner = [Int32](repeating: -1, count: w * h)
        overlay = [UInt8](repeating: 0, count: w * h)
        visiblePixels = [Int](repeating: 0, count: scene.objects.count)
        insideImagePixels = [Int](repeating: 0, count: scene.objects.count)
        amodalPixels = [Int](repeating: 0, count: scene.objects.count)

        for region in scene.stuff {
            let label = UInt8(region.labelId)
            rasterize(region.polygon, width: w, height: h) { stuffLabel[$0] = label }
        }
        var alone = [Bool](repeating: false, count: w * h)
        for (objectIndex, object) in scene.objects.enumerated() {
            var touched: [Int] = []
            for (partIndex, part) in object.parts.enumerated() {
                let slot = Int32(parts.count)
                parts.append((objectIndex, partIndex))
                rasterize(part.polygon, width: w, height: h) { index in
                    owner[index] = slot
                    if !alone[index] { alone[index] = true; touched.append(index) }
                }
            }
            insideImagePixels[objectIndex] = touched.count
            for index in touched { alone[index] = false }
            amodalPixels[objectIndex] = Self.amodalArea(object)
        }
        for region in scene.overlays {
            let label = UInt8(region.labelId)
            rasterize(region.polygon, width: w, height: h) { overlay[$0] = label }
        }
        for index in 0..<(w * h) where owner[index] >= 0 && overlay[index] == 0 {
            visiblePixels[parts[Int(owner[index])].object] += 1
        }
    }

    /// The object's pixel count on a canvas large enough to hold it whole.
    private static func amodalArea(_ object: SceneObject) -> Int {
        let bounds = object.bounds
        let x0 = (bounds.minX - 1).rounded(.down), y0 = (bounds.minY - 1).rounded(.down)
        let w = Int(bounds.maxX - x0 + 2), h = Int(bounds.maxY - y0 + 2)
        guard w > 0, h > 0, w * h < 400_000_000 else { return 0 }
        var covered = [Bool](repeating: false, count: w * h)
        var count = 0
        for part in object.parts {
            let shifted = part.polygon.map { Point($0.x - x0, $0.y - y0) }
            rasterize(shifted, width: w, height: h) { index in
                if !covered[index] { covered[index] = true; count += 1 }
            }
        }
        return count
    }

    /// The Cityscapes label id a pixel shows (overlay, then object part, then stuff).
    func label(at index: Int) -> Int {
        if overlay[index] != 0 { return Int(overlay[index]) }
        if owner[index] >= 0 {
            let (object, part) = parts[Int(owner[index])]
            return scene.objects[object].parts[part].labelId
        }
        return Int(stuffLabel[index])
    }
}
