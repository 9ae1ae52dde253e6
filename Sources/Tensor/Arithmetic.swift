/// The version of the product's arithmetic: raised by every change that makes some run's numbers
/// differ from the version before (a kernel that sums in another order, another formula), and
/// by no other change. A run records the version it started with (`derived.arithmetic_version`
/// in config.json), so a run resumed by a localsgd of another version says that it continues
/// deterministically but not bitwise as it would have, and MPI ranks of different versions say
/// so when a run starts. The golden hashes (`Tests/Golden/hashes.txt`) are recorded for one
/// version, and `scripts/golden record` refuses to change one without a new version.
///
/// Beside it, the numbers depend on the kernels the CPU runs (`BLAS.coreName`, oneDNN's
/// instruction set), which runs record on their own.
public enum Arithmetic {
    /// 1: thread-independent numbers; 2: oneDNN's convolutions by default; 3: our Winograd
    /// F(4×4, 3×3) forward and backward-data on AVX2; 4: its weight gradient too; 5: our direct
    /// kernels for first convolutions of at most 4 input channels (`conv_backend = onednn`).
    public static let version = 5
}
