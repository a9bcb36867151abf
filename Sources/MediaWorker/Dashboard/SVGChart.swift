import Foundation

/// Small server-drawn charts (no JavaScript): per-minute counts as stacked bars. This works out
/// the geometry; `Templates/chart.mustache` draws it.
enum SVGChart {
    struct Series {
        var name: String
        var color: String
        var values: [Int]
    }

    /// The context of `chart.mustache`: stacked bars, one per minute; `labels` name the first and
    /// last minute. nil when there is nothing to draw.
    static func bars(_ series: [Series], title: String, labels: (String, String), width: Int = 620, height: Int = 140) -> [String: Any]? {
        let count = series.first?.values.count ?? 0
        guard count > 0 else { return nil }
        let totals = (0..<count).map { index in series.reduce(0) { $0 + $1.values[index] } }
        let top = max(1, totals.max() ?? 1)
        let plotHeight = Double(height - 30)
        let step = Double(width - 40) / Double(count)
        var bars: [[String: Any]] = []
        for index in 0..<count {
            var y = Double(height - 18)
            for line in series where line.values[index] > 0 {
                let barHeight = Double(line.values[index]) / Double(top) * plotHeight
                y -= barHeight
                bars.append(["x": number(30 + Double(index) * step), "y": number(y), "barWidth": number(max(step - 1, 0.5)),
                             "barHeight": number(barHeight), "color": line.color, "name": line.name, "value": line.values[index]])
            }
        }
        return [
            "title": title, "width": width, "height": height, "top": top, "bars": bars,
            "labelY": height - 4, "firstLabel": labels.0, "lastLabel": labels.1, "lastLabelX": width - 10,
            "legend": series.enumerated().map { index, line in
                ["x": 300 + 90 * index, "textX": 314 + 90 * index, "color": line.color, "name": line.name] as [String: Any]
            },
        ]
    }

    private static func number(_ value: Double) -> String { String(format: "%.1f", value) }
}
