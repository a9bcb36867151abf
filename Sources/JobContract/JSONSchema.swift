import Foundation

/// A value that breaks a schema: where (`options.renditions[2]`) and why.
public struct SchemaViolation: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// An object has a property its schema does not name (`additionalProperties: false`).
        case unknownProperty(known: [String])
        case missingProperty
        case other
    }

    public var path: String
    public var message: String
    public var kind: Kind

    public var description: String { "\(path): \(message)" }
}

/// Schemas by their `$id`, and a validator for JSON Schema 2020-12 as far as the contracts use it.
///
/// Loading refuses any keyword it does not implement, so a schema in `contracts/` can never
/// rely on a rule the worker silently skips (a test loads every schema). Implemented: `type`,
/// `enum`, `const`, `properties`, `required`, `additionalProperties`, `minProperties`,
/// `maxProperties`, `items`, `minItems`, `maxItems`, `uniqueItems`, `minimum`, `maximum`,
/// `exclusiveMinimum`, `exclusiveMaximum`, `multipleOf`, `minLength`, `maxLength`, `pattern`,
/// `allOf`, `anyOf`, `oneOf`, `not`, `if`/`then`/`else`, `$ref` (within and across schemas);
/// annotations (`title`, `description`, `default`, `examples`, `format`, `$comment`, `$defs`).
public struct JSONSchemaRegistry: Sendable {
    public struct LoadError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    private var schemas: [String: JSONValue] = [:]
    private let patterns: PatternCache

    static let implemented: Set<String> = [
        "type", "enum", "const", "properties", "required", "additionalProperties", "minProperties", "maxProperties",
        "items", "minItems", "maxItems", "uniqueItems", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
        "multipleOf", "minLength", "maxLength", "pattern", "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "$ref",
    ]
    static let annotations: Set<String> = [
        "$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples", "format", "deprecated",
    ]

    public init(documents: [String]) throws(LoadError) {
        var patterns: [String: NSRegularExpression] = [:]
        for text in documents {
            let schema: JSONValue
            do {
                schema = try JSONValue.parse(text)
            } catch {
                throw LoadError(description: "a schema is not JSON: \(error)")
            }
            guard let id = schema["$id"]?.stringValue else { throw LoadError(description: "a schema has no $id") }
            try Self.check(schema, at: id, patterns: &patterns)
            schemas[id] = schema
        }
        self.patterns = PatternCache(patterns)
        // Every $ref must lead somewhere.
        for (id, schema) in schemas { try checkReferences(schema, base: id) }
    }

    public func schema(id: String) -> JSONValue? { schemas[id] }

    /// Violations of `value` against the schema `id` (empty: valid). `path` names the value.
    public func validate(_ value: JSONValue, against id: String, path: String) -> [SchemaViolation] {
        guard let schema = schemas[id] else {
            return [SchemaViolation(path: path, message: "no schema \(id)", kind: .other)]
        }
        var violations: [SchemaViolation] = []
        validate(value, schema, base: id, path: path, into: &violations)
        return violations
    }

    // MARK: loading

    private static func check(_ schema: JSONValue, at location: String, patterns: inout [String: NSRegularExpression]) throws(LoadError) {
        switch schema {
        case .bool: return
        case .object(let keywords):
            for (keyword, value) in keywords {
                guard implemented.contains(keyword) || annotations.contains(keyword) else {
                    throw LoadError(description: "\(location): the keyword '\(keyword)' is not implemented by the worker's validator")
                }
                switch keyword {
                case "properties", "$defs":
                    guard case .object(let children) = value else { throw LoadError(description: "\(location)/\(keyword) must be an object") }
                    for (name, child) in children { try check(child, at: "\(location)/\(keyword)/\(name)", patterns: &patterns) }
                case "allOf", "anyOf", "oneOf":
                    guard case .array(let children) = value, !children.isEmpty else {
                        throw LoadError(description: "\(location)/\(keyword) must be a non-empty array")
                    }
                    for (index, child) in children.enumerated() { try check(child, at: "\(location)/\(keyword)/\(index)", patterns: &patterns) }
                case "items", "not", "if", "then", "else", "additionalProperties":
                    try check(value, at: "\(location)/\(keyword)", patterns: &patterns)
                case "pattern":
                    guard let text = value.stringValue, let regex = try? NSRegularExpression(pattern: text) else {
                        throw LoadError(description: "\(location)/pattern is not a regular expression")
                    }
                    patterns[text] = regex
                default:
                    break
                }
            }
        default:
            throw LoadError(description: "\(location) is not a schema (an object or a boolean)")
        }
    }

    private func checkReferences(_ schema: JSONValue, base: String) throws(LoadError) {
        switch schema {
        case .object(let keywords):
            let base = keywords["$id"]?.stringValue.map { resolve($0, base: base).document } ?? base
            if let ref = keywords["$ref"]?.stringValue, target(of: ref, base: base) == nil {
                throw LoadError(description: "\(base): $ref \(ref) leads nowhere")
            }
            for (keyword, value) in keywords where keyword != "enum" && keyword != "const" && keyword != "default" && keyword != "examples" {
                try checkReferences(value, base: base)
            }
        case .array(let items):
            for item in items { try checkReferences(item, base: base) }
        default:
            break
        }
    }

    // MARK: references

    /// `ref` resolved against `base`: the document's id and the fragment (JSON pointer).
    private func resolve(_ ref: String, base: String) -> (document: String, fragment: String) {
        let parts = ref.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
        let reference = String(parts[0])
        let fragment = parts.count > 1 ? String(parts[1]) : ""
        if reference.isEmpty { return (base, fragment) }
        if reference.contains("://") { return (reference, fragment) }
        let folder = base.contains("/") ? String(base[...base.lastIndex(of: "/")!]) : ""
        var components = (folder + reference).components(separatedBy: "/")
        // "../x" against "https://host/a/b/" → "https://host/a/x"
        var index = 0
        while index < components.count {
            if components[index] == "..", index > 3 {
                components.removeSubrange(index - 1...index)
                index -= 1
            } else if components[index] == "." {
                components.remove(at: index)
            } else {
                index += 1
            }
        }
        return (components.joined(separator: "/"), fragment)
    }

    private func target(of ref: String, base: String) -> (schema: JSONValue, base: String)? {
        let (document, fragment) = resolve(ref, base: base)
        guard var node = schemas[document] else { return nil }
        for token in fragment.split(separator: "/") {
            let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            guard let next = node[key] else { return nil }
            node = next
        }
        return (node, document)
    }

    // MARK: validation

    private func validate(_ value: JSONValue, _ schema: JSONValue, base: String, path: String, into violations: inout [SchemaViolation]) {
        guard case .object(let keywords) = schema else {
            if schema == .bool(false) { violations.append(SchemaViolation(path: path, message: "is not allowed", kind: .other)) }
            return
        }
        func fail(_ message: String, _ kind: SchemaViolation.Kind = .other) {
            violations.append(SchemaViolation(path: path, message: message, kind: kind))
        }
        if let ref = keywords["$ref"]?.stringValue, let (target, targetBase) = target(of: ref, base: base) {
            validate(value, target, base: targetBase, path: path, into: &violations)
        }
        if let types = keywords["type"] {
            let names = types.arrayValue?.compactMap(\.stringValue) ?? [types.stringValue ?? ""]
            guard names.contains(where: { Self.value(value, hasType: $0) }) else {
                fail("must be \(Self.article(names.joined(separator: " or ")))")
                return  // other keywords would only repeat the type error
            }
        }
        if let allowed = keywords["enum"]?.arrayValue, !allowed.contains(value) {
            fail("must be one of \(allowed.map(\.jsonText).joined(separator: ", "))")
        }
        if let constant = keywords["const"], constant != value { fail("must be \(constant.jsonText)") }

        switch value {
        case .number(let number):
            let x = number.double
            if let minimum = keywords["minimum"]?.numberValue, x < minimum { fail("must be at least \(JSONNumber(minimum))") }
            if let maximum = keywords["maximum"]?.numberValue, x > maximum { fail("must be at most \(JSONNumber(maximum))") }
            if let minimum = keywords["exclusiveMinimum"]?.numberValue, x <= minimum { fail("must be more than \(JSONNumber(minimum))") }
            if let maximum = keywords["exclusiveMaximum"]?.numberValue, x >= maximum { fail("must be less than \(JSONNumber(maximum))") }
            if let step = keywords["multipleOf"]?.numberValue, step > 0 {
                let quotient = x / step
                if abs(quotient - quotient.rounded()) > 1e-9 { fail("must be a multiple of \(JSONNumber(step))") }
            }
        case .string(let text):
            let length = text.unicodeScalars.count
            if let minimum = keywords["minLength"]?.numberValue, Double(length) < minimum { fail("must have at least \(Int(minimum)) characters") }
            if let maximum = keywords["maxLength"]?.numberValue, Double(length) > maximum { fail("must have at most \(Int(maximum)) characters") }
            if let pattern = keywords["pattern"]?.stringValue, let regex = patterns[pattern],
               regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil {
                fail("must match \(pattern)")
            }
        case .array(let items):
            if let minimum = keywords["minItems"]?.numberValue, Double(items.count) < minimum { fail("must have at least \(Int(minimum)) items") }
            if let maximum = keywords["maxItems"]?.numberValue, Double(items.count) > maximum { fail("must have at most \(Int(maximum)) items") }
            if keywords["uniqueItems"] == .bool(true) {
                for (index, item) in items.enumerated() where items[..<index].contains(item) {
                    fail("must not repeat \(item.jsonText)")
                    break
                }
            }
            if let itemSchema = keywords["items"] {
                for (index, item) in items.enumerated() {
                    validate(item, itemSchema, base: base, path: "\(path)[\(index)]", into: &violations)
                }
            }
        case .object(let fields):
            if let minimum = keywords["minProperties"]?.numberValue, Double(fields.count) < minimum { fail("must have at least \(Int(minimum)) fields") }
            if let maximum = keywords["maxProperties"]?.numberValue, Double(fields.count) > maximum { fail("must have at most \(Int(maximum)) fields") }
            let properties = keywords["properties"]?.objectValue ?? [:]
            for name in (keywords["required"]?.arrayValue ?? []).compactMap(\.stringValue).sorted() where fields[name] == nil {
                violations.append(SchemaViolation(path: Self.join(path, name), message: "is required", kind: .missingProperty))
            }
            for (name, field) in fields.sorted(by: { $0.key < $1.key }) {
                if let propertySchema = properties[name] {
                    validate(field, propertySchema, base: base, path: Self.join(path, name), into: &violations)
                } else if let additional = keywords["additionalProperties"] {
                    if additional == .bool(false) {
                        violations.append(SchemaViolation(path: Self.join(path, name), message: "is not a known field",
                                                          kind: .unknownProperty(known: properties.keys.sorted())))
                    } else {
                        validate(field, additional, base: base, path: Self.join(path, name), into: &violations)
                    }
                }
            }
        default:
            break
        }

        for part in keywords["allOf"]?.arrayValue ?? [] {
            validate(value, part, base: base, path: path, into: &violations)
        }
        if let choices = keywords["anyOf"]?.arrayValue ?? keywords["oneOf"]?.arrayValue {
            let outcomes = choices.map { choice -> [SchemaViolation] in
                var found: [SchemaViolation] = []
                validate(value, choice, base: base, path: path, into: &found)
                return found
            }
            let passing = outcomes.filter(\.isEmpty).count
            if keywords["oneOf"] != nil, passing > 1 {
                fail("matches more than one of its allowed forms")
            } else if passing == 0 {
                // The form whose type fits says best what is wrong; otherwise list the forms.
                let fitting = zip(choices, outcomes).filter { choice, _ in
                    let types = choice["type"].map { $0.arrayValue?.compactMap(\.stringValue) ?? [$0.stringValue ?? ""] }
                    return types.map { $0.contains { Self.value(value, hasType: $0) } } ?? false
                }
                if fitting.count == 1 {
                    violations += fitting[0].1
                } else {
                    let forms = choices.compactMap { $0["description"]?.stringValue ?? $0["type"]?.stringValue }
                    fail("must be " + (forms.isEmpty ? "one of its allowed forms" : forms.map(Self.article).joined(separator: ", or ")))
                }
            }
        }
        if let negated = keywords["not"] {
            var found: [SchemaViolation] = []
            validate(value, negated, base: base, path: path, into: &found)
            if found.isEmpty { fail(negated["description"]?.stringValue.map { "must not be \($0)" } ?? "is not allowed in this form") }
        }
        if let condition = keywords["if"] {
            var found: [SchemaViolation] = []
            validate(value, condition, base: base, path: path, into: &found)
            if found.isEmpty, let then = keywords["then"] {
                validate(value, then, base: base, path: path, into: &violations)
            } else if !found.isEmpty, let otherwise = keywords["else"] {
                validate(value, otherwise, base: base, path: path, into: &violations)
            }
        }
    }

    static func value(_ value: JSONValue, hasType name: String) -> Bool {
        switch (name, value) {
        case ("null", .null), ("boolean", .bool), ("object", .object), ("array", .array), ("string", .string), ("number", .number):
            return true
        case ("integer", .number(let number)):
            // 2020-12: a number with a zero fractional part is an integer (1.0 too).
            return number.int64 != nil || (number.double.rounded() == number.double && number.double.isFinite)
        default:
            return false
        }
    }

    static func join(_ path: String, _ name: String) -> String { path.isEmpty ? name : path + "." + name }

    static func article(_ noun: String) -> String {
        switch noun {
        case "object", "array", "integer": return "an " + noun
        case "null": return "null"
        case "boolean", "number", "string": return "a " + noun
        default: return noun
        }
    }
}

/// Compiled `pattern`s, shared read-only (NSRegularExpression is thread-safe for matching).
final class PatternCache: @unchecked Sendable {
    private let patterns: [String: NSRegularExpression]
    init(_ patterns: [String: NSRegularExpression]) { self.patterns = patterns }
    subscript(pattern: String) -> NSRegularExpression? { patterns[pattern] }
}
