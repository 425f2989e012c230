import CCrypto
import Dispatch

/// Streaming SHA-256 over OpenSSL's EVP interface (hardware SHA extensions
/// where the CPU has them: shard hashing is on pack-mix's hot path).
public final class SHA256Hasher {
    private let context: OpaquePointer

    public init() {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count > 0 { EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) }
    }

    public func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// Lower-case hex digest; the hasher cannot be used afterwards.
    public func finalize() -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &digest, &length)
        return digest.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        let hasher = SHA256Hasher()
        hasher.update(bytes)
        return hasher.finalize()
    }
}

/// SHA-256 computed on a serial background queue, so that hashing a shard
/// overlaps with preparing and writing the next samples instead of adding to
/// them. `finalize()` waits for the queued bytes.
public final class BackgroundSHA256: @unchecked Sendable {
    private let hasher = SHA256Hasher()   // only touched on `queue`
    private let queue = DispatchQueue(label: "synmix.sha256")
    private let pending = DispatchSemaphore(value: 8)   // bounds the bytes waiting to be hashed

    public init() {}

    /// Queues `bytes` (kept alive until hashed).
    public func update(_ bytes: some ByteSource) {
        pending.wait()
        queue.async {
            bytes.withUnsafeBytes { self.hasher.update($0) }
            self.pending.signal()
        }
    }

    public func finalize() -> String {
        queue.sync { hasher.finalize() }
    }
}
