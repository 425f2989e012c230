import Foundation
import Pictures
import SynmixCore
import SynmixFormats

/// What filter-instances removed from one image, drawn with cairo: the image with
/// kept instances outlined and removed ones tinted and hatched, then zoomed crops
/// of the removed instances (a few pixels are invisible at full view) each with the
/// rules that removed it, then a legend. Classes get categorical colours that are
/// easy to tell apart (not Cityscapes' colours, where car and motorcycle share a blue).
enum Preview {
    /// Zoomed crops per preview, and their largest size in pixels.
    static let crops = 6
    static let largestCrop = 128.0

    static func render(input: ManifestRecord, outcome: FilterOutcome, taxonomy: Taxonomy, to path: String) throws {
        let (width, height) = (input.width, input.height)
        let imagePath = "\(input.root)/\(input.image)"
        let rgb = try Canvas.loadRGB(imagePath)
        guard rgb.width == width, rgb.height == height else {
            throw FileError(path: imagePath, reason: "image is \(rgb.width)x\(rgb.height), the record says \(width)x\(height)")
        }
        let classes = taxonomy.classes.filter(\.hasInstances).map(\.name)
        func color(_ name: String) -> (Double, Double, Double) {
            Canvas.categorical[(classes.firstIndex(of: name) ?? 0) % Canvas.categorical.count]
        }
        let fontSize = max(11.0, Double(width) / 90)
        let cropSize = max(32, min(largestCrop, Double(width) - 16))
        // The removed instances worth a close look: the smallest first (the ones invisible at full view).
        let zoomed = outcome.removed.sorted { ($0.instance.area, $0.instance.id) < ($1.instance.area, $1.instance.id) }.prefix(crops)
        let perRow = max(1, Int((Double(width) - 8) / (cropSize + 8)))
        let cropRows = zoomed.isEmpty ? 0 : (zoomed.count + perRow - 1) / perRow
        let labelHeight = fontSize * 2.2   // two lines under each crop: class and area, then the rules
        let cropBand = Double(cropRows) * (cropSize + labelHeight + 8)
        var entries: [(text: String, className: String?)] = [
            ("\(input.id): outlined = kept, hatched = removed (zoomed above)", nil)]
        for name in classes {
            let kept = outcome.record.instances.filter { $0.className == name && !$0.isCrowd }.count
            let removed = outcome.removed.filter { $0.instance.className == name }.count
            if kept + removed > 0 { entries.append(("\(name) \(kept) kept, \(removed) removed", name)) }
        }
        let legendBand = Double(entries.count) * fontSize * 1.4 + fontSize * 0.6
        let canvas = try Canvas(width: width, height: height + Int(cropBand + legendBand))

        canvas.draw(rgb)
        for (instance, _) in outcome.removed {
            canvas.setColor(color(instance.className), alpha: 0.45)
            canvas.fill(instance.mask)
            canvas.hatch(instance.mask)
        }
        for instance in outcome.record.instances {
            canvas.setColor(color(instance.className))
            canvas.outline(instance.mask)
        }

        // Zoomed crops: a square around the instance's box (at least 24 px), scaled to cropSize.
        for (index, (instance, rules)) in zoomed.enumerated() {
            let box = instance.bbox
            let side = Double(max(24, box[2] + 8, box[3] + 8))
            let cropX = min(max(0, Double(box[0]) + Double(box[2]) / 2 - side / 2), max(0, Double(width) - side))
            let cropY = min(max(0, Double(box[1]) + Double(box[3]) / 2 - side / 2), max(0, Double(height) - side))
            let scale = cropSize / side
            let tileX = 8 + Double(index % perRow) * (cropSize + 8)
            let tileY = Double(height) + 8 + Double(index / perRow) * (cropSize + labelHeight + 8)
            canvas.clipped(x: tileX, y: tileY, width: cropSize, height: cropSize) {
                canvas.draw(rgb, x: tileX - cropX * scale, y: tileY - cropY * scale, scale: scale)
                canvas.setColor(color(instance.className), alpha: 0.45)
                canvas.fill(instance.mask, x: tileX - cropX * scale, y: tileY - cropY * scale, scale: scale)
                canvas.hatch(instance.mask, x: tileX - cropX * scale, y: tileY - cropY * scale, scale: scale)
            }
            canvas.setColor(color(instance.className))
            canvas.box(x: tileX, y: tileY, width: cropSize, height: cropSize)
            canvas.setColor((0.95, 0.95, 0.95))
            canvas.clipped(x: tileX, y: tileY + cropSize, width: cropSize + 4, height: labelHeight + 4) {
                canvas.text("\(instance.className), \(instance.area) px", x: tileX, y: tileY + cropSize + fontSize, size: fontSize * 0.8)
                canvas.text(rules.map(\.rawValue).joined(separator: ", "), x: tileX, y: tileY + cropSize + fontSize * 2, size: fontSize * 0.8)
            }
        }

        // Legend: the title, then one line per class with its colour.
        let legendTop = Double(height) + cropBand
        for (line, entry) in entries.enumerated() {
            let baseline = legendTop + fontSize * (1.2 + 1.4 * Double(line))
            var x = fontSize * 0.6
            if let className = entry.className {
                canvas.setColor(color(className))
                canvas.rectangle(x: x, y: baseline - fontSize * 0.8, width: fontSize * 0.8, height: fontSize * 0.8)
                x += fontSize
            }
            canvas.setColor((0.95, 0.95, 0.95))
            canvas.text(entry.text, x: x, y: baseline, size: fontSize)
        }
        try canvas.writePNG(to: path)
    }
}
