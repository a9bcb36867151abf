/// A JSON number kept exactly as it was written.
///
/// Producers put ids above 2^53 and decimals with many digits into `metadata` and `options`;
/// as a Double they would come back changed in every event. The text is the producer's own
/// (checked by the parser), or, for numbers made here, the shortest text of the value.
public struct JSONNumber: Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral {
    /// The number as JSON text.
    public let text: String
    /// The nearest Double (what arithmetic uses).
    public let double: Double

    /// `text` must be a JSON number (the parser checks it).
    init(validatedText text: String, double: Double) {
        self.text = text
        self.double = double
    }

    public init(_ value: Double) {
        precondition(value.isFinite, "JSON has no NaN or infinity")
        // Whole numbers as integers ("3", not "3.0"), as producers write them.
        if value.rounded() == value, abs(value) < 9_007_199_254_740_992 {
            text = String(Int64(value))
        } else {
            text = "\(value)"
        }
        double = value
    }

    public init<Integer: BinaryInteger>(_ value: Integer) {
        text = String(value)
        double = Double(value)
    }

    public init(integerLiteral value: Int) { self.init(value) }
    public init(floatLiteral value: Double) { self.init(value) }

    /// The exact value when the number is a whole number that fits (`1e3` and `2.0` included).
    public var int64: Int64? {
        if let exact = Int64(text) { return exact }
        guard double.rounded() == double, abs(double) < 9_007_199_254_740_992 else { return nil }
        return Int64(double)
    }

    public var description: String { text }
}

extension JSONNumber: Equatable {
    /// Equal values, whatever their spelling (`1`, `1.0` and `1e0` are one number); integers
    /// are compared exactly, so two ids above 2^53 that share a Double still differ.
    public static func == (lhs: JSONNumber, rhs: JSONNumber) -> Bool {
        if lhs.text == rhs.text { return true }
        if let left = Int64(lhs.text), let right = Int64(rhs.text) { return left == right }
        return lhs.double == rhs.double
    }
}
