import Tensor

/// C[m×n] = A[m×k]·B[k×n] + beta·C (row-major, no transposes), as `BLAS.gemm`, except for the
/// one product shape where OpenBLAS 0.3.21 mallocs: its small-matrix kernel (products with
/// m·n·k ≤ 100³) copies the last n mod 16 columns of B into a fresh buffer when that remainder is
/// 1…8 and k ≥ 32 (sgemm_small_kernel_nn_skylakex.c). The training step must not allocate, so
/// those columns are computed apart with k in slices of at most 31, which take the kernel's
/// other path, accumulating with beta = 1. Hit by conv chunks at group ends and small layers.
func gemmNN(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    let tail = n % 16
    guard m * n * k <= 1_000_000, tail >= 1, tail <= 8, k >= 32 else {
        BLAS.gemm(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        return
    }
    let head = n - tail
    if head > 0 { BLAS.gemm(m: m, n: head, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc) }
    var p = 0
    while p < k {
        let slice = min(31, k - p)
        BLAS.gemm(m: m, n: tail, k: slice, a: a + p, lda: lda, b: b + p * ldb + head, ldb: ldb,
                  beta: p == 0 ? beta : 1, c: c + head, ldc: ldc)
        p += slice
    }
}
