import CBLAS
import Foundation

/// Thin, row-major wrapper over OpenBLAS. Everything matrix-shaped goes through here.
public enum BLAS {
    /// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, all row-major.
    @inline(__always)
    public static func gemm(
        transA: Bool = false, transB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
            beta, c, blasint(ldc))
    }

    /// dst[j·dstStride + i] = src[i·srcStride + j] for i in 0..<rows, j in 0..<cols (OpenBLAS's
    /// `somatcopy`: 2.8–4.6× faster here than a loop over 8×8 tiles, on Flatten's and Conv2d's
    /// shapes, many rows of few columns and few rows of many alike).
    @inline(__always)
    public static func transpose(_ src: UnsafePointer<Float>, rows: Int, cols: Int, srcStride: Int,
                                 into dst: UnsafeMutablePointer<Float>, dstStride: Int) {
        cblas_somatcopy(CblasRowMajor, CblasTrans, blasint(rows), blasint(cols), 1, src, blasint(srcStride), dst,
                        blasint(dstStride))
    }

    /// Sets OpenBLAS's own thread count (process-wide). Always set it: under mpirun its own choice depends on how ranks are bound.
    public static func setThreads(_ count: Int) { openblas_set_num_threads(Int32(max(1, count))) }

    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// The kernel family OpenBLAS chose at load time (e.g. "Haswell", "SkylakeX", "Prescott").
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// OpenBLAS 0.3.21 (Debian 12) does not recognise some recent CPUs (seen: Intel family 6
    /// model 207) and falls back to its SSE3 "Prescott" kernels, 3–8× slower. Given the CPU's
    /// flags (from /proc/cpuinfo), this returns the kernel family to ask for instead through
    /// `OPENBLAS_CORETYPE`, or nil when OpenBLAS's own choice is fine.
    public static func betterCoreType(current: String, cpuFlags: Set<Substring>) -> String? {
        guard current.lowercased() == "prescott" else { return nil }
        if cpuFlags.contains("avx512f") && cpuFlags.contains("avx512bw") { return "SkylakeX" }
        if cpuFlags.contains("avx2") && cpuFlags.contains("fma") { return "Haswell" }
        return nil
    }

    /// OpenBLAS 0.3.21's kernel families (`OPENBLAS_CORETYPE` values) that a CPU with these flags
    /// can execute, oldest first. OpenBLAS does not check a forced family against the CPU, so a
    /// family missing here would die of an illegal instruction.
    public static func executableCoreTypes(cpuFlags: Set<Substring>) -> [String] {
        let families: [(String, [Substring])] = [
            ("Prescott", ["sse3"]), ("Nehalem", ["sse4_2"]), ("Sandybridge", ["avx"]),
            ("Haswell", ["avx2", "fma"]), ("Zen", ["avx2", "fma"]),
            ("SkylakeX", ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]),
            ("Cooperlake", ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx512_bf16"]),
        ]
        // /proc/cpuinfo spells SSE3 "pni".
        let flags = cpuFlags.contains("pni") ? cpuFlags.union(["sse3"]) : cpuFlags
        return families.filter { $0.1.allSatisfy(flags.contains) }.map(\.0)
    }

    /// The CPU's feature flags from /proc/cpuinfo (empty where it cannot be read).
    public static var cpuFlags: Set<Substring> {
        guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
        return Set(line.split(separator: " "))
    }
}
