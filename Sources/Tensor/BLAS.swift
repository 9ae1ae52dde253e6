import CBLAS

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

    /// Sets OpenBLAS's own thread count (process-wide). PLATFORM.md: always set it explicitly.
    public static func setThreads(_ count: Int) { openblas_set_num_threads(Int32(max(1, count))) }

    public static var threads: Int { Int(openblas_get_num_threads()) }
}
