"""Command-line options shared by the subcommands (cli's and batch's): their arguments and values."""

from __future__ import annotations


def threads_arg(threads) -> int:
    """--threads, defaulting to all cores; refuses counts below 1."""
    from ..kernels import MAX_THREADS

    if threads is None:
        return MAX_THREADS
    if threads < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")
    return threads


def add_params(p):
    """--min-face-size, --t1/2/3, --pyramid-factor, --models, --engine, --cpp-build, --threads,
    --allow-expensive, --custom-architecture: every command that detects."""
    p.add_argument("--min-face-size", type=int, default=60, help="smallest face in px (default: %(default)s)")
    p.add_argument("--t1", type=float, default=0.6, help="PNet threshold in [0, 1] (default: %(default)s)")
    p.add_argument("--t2", type=float, default=0.7, help="RNet threshold in [0, 1] (default: %(default)s)")
    p.add_argument("--t3", type=float, default=0.7, help="ONet threshold in [0, 1] (default: %(default)s)")
    p.add_argument("--pyramid-factor", type=float, default=0.709, help="in (0, 1) (default: %(default)s)")
    p.add_argument("--models", default=None, help="folder of PNet/RNet/ONet.dat (default: bundled)")
    p.add_argument(
        "--engine",
        default="exact",
        choices=("exact", "reference", "blas", "auto"),
        help="exact: compiled kernels, bit-identical to the C++ ('auto' is its old "
        "name); reference: the same bits from slow numpy; blas: host BLAS, "
        "fast but not bit-exact (default: %(default)s)",
    )
    p.add_argument(
        "--cpp-build",
        default="avx512",
        choices=("avx512", "avx2"),
        help="which OpenFace build to reproduce: OpenBLAS on an AVX-512 CPU or "
        "on an AVX2-only CPU (Haswell kernel) (default: %(default)s)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="kernel threads (default: all cores; batch workers use 1); results do not depend on it",
    )
    p.add_argument(
        "--allow-expensive",
        action="store_true",
        help="run even when the pyramid exceeds the cost budget (default: refuse, exit 2)",
    )
    p.add_argument(
        "--custom-architecture",
        action="store_true",
        help="accept model files that are not OpenFace's MTCNN layer shapes, size-bounded (default: refuse them)",
    )


def add_tolerances(p):
    """--tol-px, --tol-score: every command that compares."""
    p.add_argument(
        "--tol-px",
        type=float,
        default=0.01,
        help="largest box coordinate difference, in px, still within tolerance (default: %(default)s)",
    )
    p.add_argument(
        "--tol-score",
        type=float,
        default=1e-4,
        help="largest score difference still within tolerance (default: %(default)s)",
    )


def params_of(a) -> dict:
    """The detector parameters of parsed args, as detect() takes them."""
    return dict(min_face_size=a.min_face_size, t1=a.t1, t2=a.t2, t3=a.t3, pyramid_factor=a.pyramid_factor)
