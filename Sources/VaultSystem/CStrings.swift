#if canImport(Glibc)
import Glibc
#endif

/// Calls `body` with a NULL-terminated array of C strings that live only during the call.
public func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let array = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: strings.count + 1)
    var owned: [UnsafeMutablePointer<CChar>?] = []
    for (i, s) in strings.enumerated() {
        let copy = strdup(s)
        owned.append(copy)
        array[i] = UnsafePointer(copy)
    }
    array[strings.count] = nil
    defer {
        for p in owned { free(p) }
        array.deallocate()
    }
    return body(array)
}
