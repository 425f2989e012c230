import CCairo

/// The strokes a chart needs on a Canvas: lines (solid or dashed), dots, centred text and a value axis.
extension Canvas {
    /// A line through `points`, `width` pixels wide, dashed when `dash` gives on/off lengths.
    public func line(_ points: [(x: Double, y: Double)], width: Double, dash: [Double]? = nil) {
        guard let first = points.first else { return }
        cairo_set_line_width(cr, width)
        if let dash { cairo_set_dash(cr, dash, Int32(dash.count), 0) }
        cairo_move_to(cr, first.x, first.y)
        for point in points.dropFirst() { cairo_line_to(cr, point.x, point.y) }
        cairo_stroke(cr)
        if dash != nil { cairo_set_dash(cr, nil, 0, 0) }
    }

    /// A filled dot of `radius` centred on (x, y).
    public func dot(x: Double, y: Double, radius: Double) {
        cairo_arc(cr, x, y, radius, 0, 2 * Double.pi)
        cairo_fill(cr)
    }

    /// Text with its baseline at y, centred on x.
    public func centredText(_ string: String, x: Double, y: Double, size: Double) {
        text(string, x: x - textWidth(string, size: size) / 2, y: y, size: size)
    }

    /// A value axis from `low` to `high` with light grid lines from `left` to `right` and labels left of it;
    /// `y` maps a value to its row. The step is about a sixth of the range, at least 1.
    public func valueAxis(low: Double, high: Double, left: Double, right: Double, y: (Double) -> Double, format: String = "%.0f") {
        let step = max(1, ((high - low) / 6).rounded())
        var tick = low
        while tick <= high {
            setColor((0.85, 0.85, 0.85))
            line([(left, y(tick)), (right, y(tick))], width: 1)
            setColor((0.2, 0.2, 0.2))
            text(String(format: format, tick), x: left - 30, y: y(tick) + 4, size: 12)
            tick += step
        }
    }
}
