import CCairo
import Foundation
import SynmixCore

/// Overlay pictures drawn with cairo: the image, kept instances outlined in
/// their class colour, removed ones tinted and hatched, and a legend.
enum Preview {
    static func render(input: ManifestRecord, outcome: FilterOutcome, taxonomy: Taxonomy, to path: String) throws {
        let (width, height) = (input.width, input.height)
        let imagePath = "\(input.root)/\(input.image)"
        let rgb = try loadRGB(imagePath)
        guard rgb.width == width, rgb.height == height else {
            throw FileError(path: imagePath, reason: "image is \(rgb.width)x\(rgb.height), the record says \(width)x\(height)")
        }
        let fontSize = max(11.0, Double(height) / 56)
        let classes = taxonomy.classes.filter(\.hasInstances)
        // Legend entries, laid out in lines that fit the image's width.
        var entries: [(text: String, color: [Int]?)] = [("\(input.id): outlined = kept, hatched = removed", nil)]
        for cls in classes {
            let kept = outcome.record.instances.filter { $0.className == cls.name && !$0.isCrowd }.count
            let removed = outcome.removed.filter { $0.instance.className == cls.name }.count
            if kept + removed > 0 { entries.append(("\(cls.name) \(kept) kept, \(removed) removed", cls.color)) }
        }
        let layout = legendLayout(entries.map { ($0.text, $0.color != nil) }, width: Double(width), fontSize: fontSize)
        let legendHeight = Int((Double(layout.lines) + 0.6) * fontSize * 1.4)
        guard let surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width), Int32(height + legendHeight)),
              cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS else {
            throw FileError(path: path, reason: "cairo cannot allocate a \(width)x\(height) surface")
        }
        defer { cairo_surface_destroy(surface) }
        copy(rgb, into: surface)
        let cr = cairo_create(surface)!
        defer { cairo_destroy(cr) }

        func color(_ name: String) -> (Double, Double, Double) {
            let c = taxonomy.classes.first { $0.name == name }?.color ?? [255, 255, 255]
            return (Double(c[0]) / 255, Double(c[1]) / 255, Double(c[2]) / 255)
        }
        // Removed: tint with the class colour, then hatch, inside the mask.
        let hatch = hatchPattern()
        defer { cairo_pattern_destroy(hatch) }
        for (instance, _) in outcome.removed {
            addRuns(instance.mask, to: cr)
            cairo_clip(cr)
            let (r, g, b) = color(instance.className)
            cairo_set_source_rgba(cr, r, g, b, 0.45)
            cairo_paint(cr)
            cairo_set_source(cr, hatch)
            cairo_paint(cr)
            cairo_reset_clip(cr)
        }
        // Kept: a two-pixel outline in the class colour.
        for instance in outcome.record.instances {
            addOutline(instance.mask, to: cr)
            let (r, g, b) = color(instance.className)
            cairo_set_source_rgb(cr, r, g, b)
            cairo_fill(cr)
        }
        // Legend band.
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1)
        cairo_rectangle(cr, 0, Double(height), Double(width), Double(legendHeight))
        cairo_fill(cr)
        setFont(cr, fontSize)
        for (entry, position) in zip(entries, layout.positions) {
            let baseline = Double(height) + fontSize * (1.2 + 1.4 * Double(position.line))
            var x = position.x
            if let c = entry.color {
                cairo_set_source_rgb(cr, Double(c[0]) / 255, Double(c[1]) / 255, Double(c[2]) / 255)
                cairo_rectangle(cr, x, baseline - fontSize * 0.8, fontSize * 0.8, fontSize * 0.8)
                cairo_fill(cr)
                x += fontSize
            }
            cairo_set_source_rgb(cr, 0.95, 0.95, 0.95)
            cairo_move_to(cr, x, baseline)
            cairo_show_text(cr, entry.text)
        }
        cairo_surface_flush(surface)
        let temporary = path + ".tmp"
        guard cairo_surface_write_to_png(surface, temporary) == CAIRO_STATUS_SUCCESS, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw FileError(path: path, reason: "cannot write the preview PNG")
        }
    }

    private static func setFont(_ cr: OpaquePointer, _ size: Double) {
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(cr, size)
    }

    /// Where each legend entry goes: entries flow left to right and wrap at the image's width.
    private static func legendLayout(_ entries: [(text: String, swatch: Bool)], width: Double, fontSize: Double)
        -> (lines: Int, positions: [(line: Int, x: Double)]) {
        let scratch = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1)!
        let cr = cairo_create(scratch)!
        defer { cairo_destroy(cr); cairo_surface_destroy(scratch) }
        setFont(cr, fontSize)
        var positions: [(Int, Double)] = []
        var line = 0, x = fontSize * 0.6
        for (index, entry) in entries.enumerated() {
            var extents = cairo_text_extents_t()
            cairo_text_extents(cr, entry.text, &extents)
            let advance = extents.x_advance + (entry.swatch ? fontSize : 0)
            // The title has a line of its own; entries wrap when they would overflow.
            if index == 1 || (index > 1 && x + advance > width) {
                line += 1
                x = fontSize * 0.6
            }
            positions.append((line, x))
            x += advance + fontSize * 0.8
        }
        return (line + 1, positions)
    }

    static func loadRGB(_ path: String) throws -> Raster<UInt8> {
        let bytes = try Files.read(path)
        if path.lowercased().hasSuffix(".jpg") || path.lowercased().hasSuffix(".jpeg") {
            return try JPEGCodec.decode(bytes, path: path)
        }
        let pixels = try PNGCodec.decode(bytes, path: path, options: PNGDecodeOptions(to8Bit: true, stripAlpha: true))
        guard case .eightBit(let raster) = pixels else { throw FileError(path: path, reason: "unexpected PNG layout") }
        return raster
    }

    /// Copies RGB or gray pixels into a cairo RGB24 surface (0x00RRGGBB words).
    private static func copy(_ image: Raster<UInt8>, into surface: OpaquePointer) {
        cairo_surface_flush(surface)
        let data = cairo_image_surface_get_data(surface)!
        let stride = Int(cairo_image_surface_get_stride(surface))
        for y in 0..<image.height {
            let row = UnsafeMutableRawPointer(data + y * stride).assumingMemoryBound(to: UInt32.self)
            for x in 0..<image.width {
                let i = (y * image.width + x) * image.channels
                let (r, g, b) = image.channels >= 3 ? (image.samples[i], image.samples[i + 1], image.samples[i + 2])
                    : (image.samples[i], image.samples[i], image.samples[i])
                row[x] = UInt32(r) << 16 | UInt32(g) << 8 | UInt32(b)
            }
        }
        cairo_surface_mark_dirty(surface)
    }

    /// The mask as a path of one-pixel-wide column runs (for clipping).
    private static func addRuns(_ mask: RLE, to cr: OpaquePointer) {
        cairo_new_path(cr)
        mask.forEachForegroundRun { start, length in
            var position = start
            let end = start + length
            while position < end {   // a run may wrap into the next column
                let x = position / mask.height, y = position % mask.height
                let inColumn = min(end - position, mask.height - y)
                cairo_rectangle(cr, Double(x), Double(y), 1, Double(inColumn))
                position += inColumn
            }
        }
    }

    /// Boundary pixels of the mask (4-neighbourhood), drawn two pixels wide.
    private static func addOutline(_ mask: RLE, to cr: OpaquePointer) {
        let pixels = mask.decode()
        let (w, h) = (mask.width, mask.height)
        cairo_new_path(cr)
        for y in 0..<h {
            for x in 0..<w where pixels[y * w + x] != 0 {
                let edge = x == 0 || y == 0 || x == w - 1 || y == h - 1
                    || pixels[y * w + x - 1] == 0 || pixels[y * w + x + 1] == 0
                    || pixels[(y - 1) * w + x] == 0 || pixels[(y + 1) * w + x] == 0
                if edge { cairo_rectangle(cr, Double(x) - 0.5, Double(y) - 0.5, 2, 2) }
            }
        }
    }

    /// Diagonal white-on-red hatching, repeated.
    private static func hatchPattern() -> OpaquePointer {
        let tile = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 8, 8)!
        let cr = cairo_create(tile)!
        cairo_set_source_rgba(cr, 1, 0.15, 0.15, 0.85)
        cairo_set_line_width(cr, 1.5)
        cairo_move_to(cr, -1, 9)
        cairo_line_to(cr, 9, -1)
        cairo_stroke(cr)
        cairo_destroy(cr)
        let pattern = cairo_pattern_create_for_surface(tile)!
        cairo_pattern_set_extend(pattern, CAIRO_EXTEND_REPEAT)
        cairo_surface_destroy(tile)
        return pattern
    }
}
