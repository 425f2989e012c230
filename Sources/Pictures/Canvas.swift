import CCairo
import Foundation
import SynmixCore
import SynmixFormats

/// A cairo RGB surface with the drawing synmix's pictures need (filter previews,
/// prediction overlays): images, masks filled, hatched or outlined, boxes, text,
/// and an atomic PNG write. Coordinates are pixels of the surface.
public final class Canvas {
    public let width: Int, height: Int
    let surface: OpaquePointer
    let cr: OpaquePointer

    /// Tableau's ten categorical colours: neighbours in the list are easy to tell apart
    /// (Cityscapes' own colours give car and motorcycle nearly the same blue).
    public static let categorical: [(Double, Double, Double)] = [
        (0.12, 0.47, 0.71), (1.00, 0.50, 0.05), (0.17, 0.63, 0.17), (0.84, 0.15, 0.16), (0.58, 0.40, 0.74),
        (0.55, 0.34, 0.29), (0.89, 0.47, 0.76), (0.50, 0.50, 0.50), (0.74, 0.74, 0.13), (0.09, 0.75, 0.81),
    ]

    /// A surface filled with `background` (dark, so that light text and images read on it).
    public init(width: Int, height: Int, background: (Double, Double, Double) = (0.1, 0.1, 0.1)) throws {
        guard width > 0, height > 0, let surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width), Int32(height)),
              cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS else {
            throw CanvasError.noSurface(width: width, height: height)
        }
        self.width = width
        self.height = height
        self.surface = surface
        cr = cairo_create(surface)!
        cairo_set_source_rgb(cr, background.0, background.1, background.2)
        cairo_paint(cr)
    }

    deinit {
        cairo_destroy(cr)
        cairo_surface_destroy(surface)
    }

    public func setColor(_ color: (Double, Double, Double), alpha: Double = 1) {
        cairo_set_source_rgba(cr, color.0, color.1, color.2, alpha)
    }

    /// Copies RGB or gray pixels to (x, y), scaled by `scale` (nearest neighbour: pixels stay visible when zoomed).
    public func draw(_ image: Raster<UInt8>, x: Double = 0, y: Double = 0, scale: Double = 1) {
        guard let source = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(image.width), Int32(image.height)) else { return }
        defer { cairo_surface_destroy(source) }
        cairo_surface_flush(source)
        let data = cairo_image_surface_get_data(source)!
        let stride = Int(cairo_image_surface_get_stride(source))
        for row in 0..<image.height {
            let pixels = UnsafeMutableRawPointer(data + row * stride).assumingMemoryBound(to: UInt32.self)
            for column in 0..<image.width {
                let i = (row * image.width + column) * image.channels
                let (r, g, b) = image.channels >= 3 ? (image.samples[i], image.samples[i + 1], image.samples[i + 2])
                    : (image.samples[i], image.samples[i], image.samples[i])
                pixels[column] = UInt32(r) << 16 | UInt32(g) << 8 | UInt32(b)
            }
        }
        cairo_surface_mark_dirty(source)
        cairo_save(cr)
        cairo_translate(cr, x, y)
        cairo_scale(cr, scale, scale)
        cairo_set_source_surface(cr, source, 0, 0)
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST)
        cairo_paint(cr)
        cairo_restore(cr)
    }

    /// Fills the mask's pixels with the current colour, the mask's (0, 0) at (x, y), scaled.
    public func fill(_ mask: RLE, x: Double = 0, y: Double = 0, scale: Double = 1) {
        addRuns(mask, x: x, y: y, scale: scale)
        cairo_fill(cr)
    }

    /// Diagonal red hatching inside the mask (what was removed).
    public func hatch(_ mask: RLE, x: Double = 0, y: Double = 0, scale: Double = 1) {
        let tile = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 8, 8)!
        let tileContext = cairo_create(tile)!
        cairo_set_source_rgba(tileContext, 1, 0.15, 0.15, 0.85)
        cairo_set_line_width(tileContext, 1.5)
        cairo_move_to(tileContext, -1, 9)
        cairo_line_to(tileContext, 9, -1)
        cairo_stroke(tileContext)
        cairo_destroy(tileContext)
        let pattern = cairo_pattern_create_for_surface(tile)!
        cairo_pattern_set_extend(pattern, CAIRO_EXTEND_REPEAT)
        cairo_surface_destroy(tile)
        defer { cairo_pattern_destroy(pattern) }
        cairo_save(cr)
        addRuns(mask, x: x, y: y, scale: scale)
        cairo_clip(cr)
        cairo_set_source(cr, pattern)
        cairo_paint(cr)
        cairo_restore(cr)
    }

    /// The mask's boundary pixels (4-neighbourhood) in the current colour, `thickness` pixels wide.
    public func outline(_ mask: RLE, x: Double = 0, y: Double = 0, scale: Double = 1, thickness: Double = 2) {
        let pixels = mask.decode()
        let (w, h) = (mask.width, mask.height)
        cairo_save(cr)
        cairo_translate(cr, x, y)
        cairo_scale(cr, scale, scale)
        cairo_new_path(cr)
        let size = thickness / scale
        for row in 0..<h {
            for column in 0..<w where pixels[row * w + column] != 0 {
                let edge = column == 0 || row == 0 || column == w - 1 || row == h - 1
                    || pixels[row * w + column - 1] == 0 || pixels[row * w + column + 1] == 0
                    || pixels[(row - 1) * w + column] == 0 || pixels[(row + 1) * w + column] == 0
                if edge { cairo_rectangle(cr, Double(column) + 0.5 - size / 2, Double(row) + 0.5 - size / 2, size, size) }
            }
        }
        cairo_fill(cr)
        cairo_restore(cr)
    }

    /// A rectangle's outline in the current colour; `dashed` for what is wrong.
    public func box(x: Double, y: Double, width: Double, height: Double, lineWidth: Double = 2, dashed: Bool = false) {
        cairo_save(cr)
        cairo_set_line_width(cr, lineWidth)
        if dashed {
            let pattern: [Double] = [6, 4]
            cairo_set_dash(cr, pattern, 2, 0)
        }
        cairo_rectangle(cr, x, y, width, height)
        cairo_stroke(cr)
        cairo_restore(cr)
    }

    /// Draws `body` clipped to a rectangle.
    public func clipped(x: Double, y: Double, width: Double, height: Double, _ body: () -> Void) {
        cairo_save(cr)
        cairo_rectangle(cr, x, y, width, height)
        cairo_clip(cr)
        body()
        cairo_restore(cr)
    }

    public func rectangle(x: Double, y: Double, width: Double, height: Double) {
        cairo_rectangle(cr, x, y, width, height)
        cairo_fill(cr)
    }

    /// Text with its baseline at (x, y), in DejaVu Sans.
    public func text(_ string: String, x: Double, y: Double, size: Double) {
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(cr, size)
        cairo_move_to(cr, x, y)
        cairo_show_text(cr, string)
    }

    /// How wide `string` is at `size`.
    public func textWidth(_ string: String, size: Double) -> Double {
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(cr, size)
        var extents = cairo_text_extents_t()
        cairo_text_extents(cr, string, &extents)
        return extents.x_advance
    }

    /// Draws with cairo directly (plots: lines, axes), in DejaVu Sans.
    public func withContext(_ body: (OpaquePointer) -> Void) {
        cairo_save(cr)
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL)
        body(cr)
        cairo_restore(cr)
    }

    /// Writes the PNG under a temporary name and renames it when complete.
    public func writePNG(to path: String) throws {
        cairo_surface_flush(surface)
        let temporary = path + ".tmp"
        guard cairo_surface_write_to_png(surface, temporary) == CAIRO_STATUS_SUCCESS, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw FileError(path: path, reason: "cannot write the PNG")
        }
    }

    /// The mask as a path of one-pixel-wide column runs, its (0, 0) at (x, y), scaled (the path keeps
    /// the transform it was built with; the current transform is left as it was).
    private func addRuns(_ mask: RLE, x: Double, y: Double, scale: Double) {
        cairo_save(cr)
        defer { cairo_restore(cr) }
        cairo_translate(cr, x, y)
        cairo_scale(cr, scale, scale)
        cairo_new_path(cr)
        mask.forEachForegroundRun { start, length in
            var position = start
            let end = start + length
            while position < end {   // a run may wrap into the next column
                let column = position / mask.height, row = position % mask.height
                let inColumn = min(end - position, mask.height - row)
                cairo_rectangle(cr, Double(column), Double(row), 1, Double(inColumn))
                position += inColumn
            }
        }
    }
}

extension Canvas {
    /// An 8-bit RGB (or gray) image file, PNG or JPEG by extension.
    public static func loadRGB(_ path: String) throws -> Raster<UInt8> {
        try SampleRecord.ImageFormat(fileName: path).decode8Bit(try Files.read(path), path: path)
    }
}

/// A picture that cannot be drawn (no file is involved yet).
public enum CanvasError: Error, Equatable, CustomStringConvertible {
    case noSurface(width: Int, height: Int)

    public var description: String {
        switch self {
        case .noSurface(let width, let height): "cairo cannot allocate a \(width)x\(height) surface"
        }
    }
}
