import Foundation
import VolleyCore

extension JSONPath {
    /// The value at the path in a `JSONSerialization` tree, or nil when absent.
    public func evaluate(_ root: Any) -> Any? {
        var current: Any = root
        for s in segments {
            switch s {
            case .key(let k):
                guard let object = current as? [String: Any], let next = object[k] else { return nil }
                current = next
            case .index(let n):
                guard let array = current as? [Any] else { return nil }
                let index = n < 0 ? array.count + n : n
                guard index >= 0 && index < array.count else { return nil }
                current = array[index]
            }
        }
        return current
    }

    /// Text for a found value: strings as they are, numbers without a needless ".0",
    /// objects and arrays as JSON. nil for JSON null, which is never a usable capture.
    public static func text(of value: Any) -> String? {
        switch value {
        case is NSNull: return nil
        case let s as String: return s
        case let n as NSNumber:
            if String(cString: n.objCType) == "c" { return n.boolValue ? "true" : "false" }
            let d = n.doubleValue
            if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
            return String(d)
        default:
            guard JSONSerialization.isValidJSONObject(value),
                let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])
            else { return nil }
            return String(decoding: data, as: UTF8.self)
        }
    }
}
