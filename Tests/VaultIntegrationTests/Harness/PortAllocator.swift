import Foundation
import Synchronization

/// Hands out distinct loopback ports to tests running in parallel, skipping ports in use.
/// Stays below Linux's ephemeral range (32768+) so no client socket can take a port first.
enum PortAllocator {
    private static let next = Mutex<UInt16>(UInt16.random(in: 20000...31000))

    static func allocate() -> UInt16 {
        while true {
            let port = next.withLock { p -> UInt16 in
                p = p >= 32000 ? 20000 : p + 1
                return p
            }
            if isFree(port) { return port }
        }
    }

    static func isFree(_ port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return r == 0
    }
}
