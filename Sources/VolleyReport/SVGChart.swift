/// Charts as inline SVG, generated in Swift: a report must open offline, in a CI artifact
/// viewer, years later — so no JavaScript library to vendor and nothing fetched.
package struct SVGChart {
    package enum Kind { case line, dots, bars, marker }

    package struct Series {
        package var name: String
        package var color: String
        package var points: [(x: Double, y: Double)]
        package var kind: Kind

        package init(_ name: String, color: String, kind: Kind = .line, points: [(x: Double, y: Double)]) {
            self.name = name
            self.color = color
            self.points = points
            self.kind = kind
        }
    }

    package var title: String
    package var xLabel: String
    package var yLabel: String
    package var series: [Series]
    package var width = 920.0
    package var height = 280.0
    /// Custom x tick positions and labels (the percentile chart's 50 % … 99.99 %).
    package var xTicks: [(Double, String)]?
    package var yMin: Double? = 0
    /// Where the x axis starts (time charts start at 0 s).
    package var xMin: Double?
    /// Where it ends: probe charts share the run's span, so that they line up under the
    /// latency chart second for second.
    package var xMax: Double?
    /// Vertical boundaries with a label at the top (where each level of a sweep starts, when
    /// its runs are drawn end to end).
    package var xMarks: [(Double, String)] = []

    package init(title: String, xLabel: String, yLabel: String, series: [Series]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
    }

    private let left = 64.0
    private let right = 16.0
    private let top = 34.0
    private let bottom = 46.0

    package func render() -> String {
        let all = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        var svg =
            "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(n(width)) \(n(height))\" "
            + "role=\"img\" aria-label=\"\(HTML.escape(title))\">"
        svg += "<text x=\"\(n(left))\" y=\"20\" class=\"chart-title\">\(HTML.escape(title))</text>"
        guard !all.isEmpty else {
            svg +=
                "<text x=\"\(n(width / 2))\" y=\"\(n(height / 2))\" text-anchor=\"middle\" class=\"muted\">no data</text></svg>"
            return svg
        }
        var x0 = min(xMin ?? .infinity, all.map(\.x).min()!)
        var x1 = max(xMax ?? -.infinity, all.map(\.x).max()!)
        if let ticks = xTicks, let first = ticks.first?.0, let last = ticks.last?.0 {
            x0 = min(x0, first)
            x1 = max(x1, last)
        }
        if x1 == x0 { x1 = x0 + 1 }
        let yTicks = Self.niceTicks(from: yMin ?? all.map(\.y).min()!, to: max(all.map(\.y).max()!, (yMin ?? 0) + 1e-9))
        let y0 = yTicks.first!
        let y1 = yTicks.last!
        let plotW = width - left - right
        let plotH = height - top - bottom
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * plotW }
        func py(_ y: Double) -> Double { top + plotH - (y - y0) / (y1 - y0) * plotH }

        // Grid and y axis.
        for t in yTicks {
            svg +=
                "<line x1=\"\(n(left))\" y1=\"\(n(py(t)))\" x2=\"\(n(width - right))\" y2=\"\(n(py(t)))\" class=\"grid\"/>"
            svg +=
                "<text x=\"\(n(left - 6))\" y=\"\(n(py(t) + 4))\" text-anchor=\"end\" class=\"tick\">\(Self.label(t))</text>"
        }
        let xTickList =
            xTicks ?? Self.niceTicks(from: x0, to: x1).filter { $0 >= x0 && $0 <= x1 }.map { ($0, Self.label($0)) }
        for (t, text) in xTickList {
            svg +=
                "<line x1=\"\(n(px(t)))\" y1=\"\(n(top + plotH))\" x2=\"\(n(px(t)))\" y2=\"\(n(top + plotH + 4))\" class=\"axis\"/>"
            svg +=
                "<text x=\"\(n(px(t)))\" y=\"\(n(top + plotH + 17))\" text-anchor=\"middle\" class=\"tick\">\(HTML.escape(text))</text>"
        }
        svg +=
            "<line x1=\"\(n(left))\" y1=\"\(n(top + plotH))\" x2=\"\(n(width - right))\" y2=\"\(n(top + plotH))\" class=\"axis\"/>"
        svg += "<line x1=\"\(n(left))\" y1=\"\(n(top))\" x2=\"\(n(left))\" y2=\"\(n(top + plotH))\" class=\"axis\"/>"
        svg +=
            "<text x=\"\(n(left + plotW / 2))\" y=\"\(n(height - 8))\" text-anchor=\"middle\" class=\"axis-label\">\(HTML.escape(xLabel))</text>"
        svg +=
            "<text transform=\"translate(14 \(n(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\" class=\"axis-label\">\(HTML.escape(yLabel))</text>"

        // Boundaries, under the series.
        for (x, text) in xMarks where x >= x0 && x <= x1 {
            svg +=
                "<line x1=\"\(n(px(x)))\" y1=\"\(n(top))\" x2=\"\(n(px(x)))\" y2=\"\(n(top + plotH))\" "
                + "class=\"boundary\" stroke=\"#adb5bd\" stroke-dasharray=\"3 3\"/>"
            svg +=
                "<text x=\"\(n(px(x) + 3))\" y=\"\(n(top + 10))\" class=\"tick\">\(HTML.escape(text))</text>"
        }

        // Series.
        let barWidth = max(1.0, plotW / Double(max(1, all.count / max(1, series.count))) * 0.7)
        for s in series {
            let points = s.points.filter { $0.x.isFinite && $0.y.isFinite }
            switch s.kind {
            case .line:
                guard !points.isEmpty else { continue }
                let d = points.enumerated().map { i, p in (i == 0 ? "M" : "L") + n(px(p.x)) + " " + n(py(p.y)) }.joined(
                    separator: " "
                )
                svg += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.8\"/>"
            case .dots:
                for p in points {
                    svg +=
                        "<circle cx=\"\(n(px(p.x)))\" cy=\"\(n(py(p.y)))\" r=\"1.6\" fill=\"\(s.color)\" fill-opacity=\"0.45\"/>"
                }
            case .marker:
                for p in points {
                    svg +=
                        "<circle cx=\"\(n(px(p.x)))\" cy=\"\(n(py(p.y)))\" r=\"7\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2.5\"/>"
                    svg +=
                        "<line x1=\"\(n(px(p.x)))\" y1=\"\(n(top))\" x2=\"\(n(px(p.x)))\" y2=\"\(n(top + plotH))\" stroke=\"\(s.color)\" stroke-dasharray=\"4 4\"/>"
                }
            case .bars:
                for p in points where p.y > y0 {
                    svg +=
                        "<rect x=\"\(n(px(p.x) - barWidth / 2))\" y=\"\(n(py(p.y)))\" width=\"\(n(barWidth))\" "
                        + "height=\"\(n(py(y0) - py(p.y)))\" fill=\"\(s.color)\" fill-opacity=\"0.7\"/>"
                }
            }
        }
        // Legend.
        var lx = width - right
        for s in series.reversed() {
            let w = Double(s.name.count) * 6.6 + 22
            lx -= w
            svg += "<rect x=\"\(n(lx))\" y=\"11\" width=\"12\" height=\"4\" fill=\"\(s.color)\"/>"
            svg += "<text x=\"\(n(lx + 16))\" y=\"17\" class=\"legend\">\(HTML.escape(s.name))</text>"
        }
        return svg + "</svg>"
    }

    /// About five round ticks covering [lo, hi]: steps of 1, 2 or 5 × 10^k.
    package static func niceTicks(from lo: Double, to hi: Double, count: Int = 5) -> [Double] {
        guard lo.isFinite, hi.isFinite, hi > lo else { return [lo, lo + 1] }
        let raw = (hi - lo) / Double(count)
        var magnitude = 1.0
        while magnitude * 10 <= raw { magnitude *= 10 }
        while magnitude > raw { magnitude /= 10 }
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? magnitude * 10
        let start = (lo / step).rounded(.down) * step
        var ticks: [Double] = []
        var t = start
        while t < hi + step * 0.999 && ticks.count < 50 {
            ticks.append(t)
            t += step
        }
        return ticks
    }

    static func label(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e9 { return Fmt.int(Int(v)) }
        if abs(v) >= 10 { return Fmt.fixed(v, 1) }
        if abs(v) >= 1 { return Fmt.fixed(v, 2) }
        return Fmt.fixed(v, 3)
    }

    private func n(_ v: Double) -> String { Fmt.fixed(v, 1).replacingOccurrences(of: ",", with: "") }
}

/// HTML text escaping.
package enum HTML {
    package static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }
}
