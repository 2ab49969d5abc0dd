# PyTorch timings of the same kernels bench/kernels.ts measures, for the tsgrad/PyTorch ratio.
# Reads a JSON list of cases on stdin, prints {"name": median_ms, ...} on stdout.
# Promise: 2 threads (or --threads N, OpenBLAS's too: bench/openblas_env.py), fresh output
# tensors each call (as tsgrad allocates), transposed operands as views (.t()), never as copies.
import argparse
import json
import sys
import time

from openblas_env import add_threads_flag, openblas_env  # bench/openblas_env.py

openblas_env(default_threads=2)
import torch  # noqa: E402  (after openblas_env)


def main():
    ap = argparse.ArgumentParser()
    add_threads_flag(ap, default=2)
    threads = ap.parse_args().threads
    torch.set_num_threads(threads)
    cases = json.load(sys.stdin)
    out = {"torch_version": torch.__version__, "threads": torch.get_num_threads(), "ms": {}}
    for c in cases:
        fn = make(c)
        if fn is None:
            continue
        reps = c.get("reps", 5)
        for _ in range(2):  # warm up
            fn()
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
        times.sort()
        out["ms"][c["name"]] = times[len(times) // 2]
    json.dump(out, sys.stdout)


def make(c):
    kind = c["kind"]
    g = torch.Generator().manual_seed(0)
    rand = lambda *shape: torch.rand(*shape, generator=g) * 2 - 1
    if kind == "matmul":
        m, k, n = c["m"], c["k"], c["n"]
        a = rand(k, m).t() if c["transA"] else rand(m, k)  # op(A) [m, k]
        b = rand(n, k).t() if c["transB"] else rand(k, n)  # op(B) [k, n]
        return lambda: torch.matmul(a, b)
    if kind == "softmax":
        x = rand(c["rows"], c["cols"]) * 10
        return lambda: torch.softmax(x, dim=-1)
    if kind == "crossEntropy":
        x = rand(c["rows"], c["cols"]) * 10
        t = torch.randint(0, c["cols"], (c["rows"],), generator=g)
        return lambda: torch.nn.functional.cross_entropy(x, t, reduction="none")
    return None


if __name__ == "__main__":
    main()
