#if canImport(Glibc)
import Glibc
#endif
// TEMPORARY instrumentation, not to be committed.
public func phaseTrace(_ s: String) {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    let line = "PHASE \(ts.tv_sec).\(String(ts.tv_nsec / 1000).leftPad(6)) \(s)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}
extension String { func leftPad(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self } }
