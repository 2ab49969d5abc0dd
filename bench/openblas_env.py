"""OpenBLAS's settings for the PyTorch benchmarks (torch_train.py, torch_kernels.py,
torch_tinystories.py). Debian's torch (and numpy) do their matmuls in OpenBLAS, which reads its
settings from the environment once, when it is loaded, and torch.set_num_threads does not
change its thread count afterwards (here `--threads 1` still multiplied on two threads, at
~156 GFLOP/s against ~90 on one). So each script calls openblas_env() before `import torch`:
OPENBLAS_NUM_THREADS as its --threads, and OPENBLAS_CORETYPE from the CPU's flags (on some
virtual CPUs OpenBLAS detects an old core, "Prescott", no AVX, and runs its GEMM 3-5x slower
than it can). A variable the environment already sets is kept.
"""
import argparse
import os


def add_threads_flag(parser, default):
    parser.add_argument("--threads", type=int, default=default, help="torch.set_num_threads and OPENBLAS_NUM_THREADS")


def openblas_env(default_threads):
    parser = argparse.ArgumentParser(add_help=False)
    add_threads_flag(parser, default_threads)
    known, _ = parser.parse_known_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(known.threads))
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        flags = []
    core = "SkylakeX" if "avx512f" in flags else "Haswell" if "avx2" in flags else None
    if core is not None:
        os.environ.setdefault("OPENBLAS_CORETYPE", core)
