/// Small server-drawn charts (no JavaScript): per-minute counts as stacked bars or lines.
enum SVGChart {
    struct Series {
        var name: String
        var color: String
        var values: [Int]
    }

    /// Stacked bars, one per minute; `labels` name the first and last minute.
    static func bars(_ series: [Series], title: String, labels: (String, String), width: Int = 620, height: Int = 140) -> String {
        let count = series.first?.values.count ?? 0
        guard count > 0 else { return "" }
        let totals = (0..<count).map { index in series.reduce(0) { $0 + $1.values[index] } }
        let top = max(1, totals.max() ?? 1)
        let plotHeight = Double(height - 30)
        let step = Double(width - 40) / Double(count)
        var svg = "<svg role=\"img\" aria-label=\"\(HTML.escape(title))\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" xmlns=\"http://www.w3.org/2000/svg\">"
        svg += "<text x=\"4\" y=\"12\" font-size=\"11\">\(HTML.escape(title)) (max \(top)/min)</text>"
        for index in 0..<count {
            var y = Double(height - 18)
            for line in series where line.values[index] > 0 {
                let barHeight = Double(line.values[index]) / Double(top) * plotHeight
                y -= barHeight
                svg += "<rect x=\(quote(30 + Double(index) * step)) y=\(quote(y)) width=\(quote(max(step - 1, 0.5))) height=\(quote(barHeight)) fill=\"\(line.color)\"><title>\(HTML.escape(line.name)): \(line.values[index])</title></rect>"
            }
        }
        svg += "<text x=\"30\" y=\"\(height - 4)\" font-size=\"10\">\(HTML.escape(labels.0))</text>"
        svg += "<text x=\"\(width - 10)\" y=\"\(height - 4)\" font-size=\"10\" text-anchor=\"end\">\(HTML.escape(labels.1))</text>"
        var legendX = 300
        for line in series {
            svg += "<rect x=\"\(legendX)\" y=\"3\" width=\"10\" height=\"10\" fill=\"\(line.color)\"/><text x=\"\(legendX + 14)\" y=\"12\" font-size=\"11\">\(HTML.escape(line.name))</text>"
            legendX += 90
        }
        return svg + "</svg>"
    }

    private static func quote(_ value: Double) -> String { "\"" + String(format: "%.1f", value) + "\"" }
}
