"""Forward+backward time and peak memory of softmax focal losses vs cross-entropy.

Times, on CPU, ``loss(z, y).backward()`` for

* ``ours``: ``focalentropy.torch.focal_loss``,
* ``naive``: log_softmax, gather, pow (NaN gradients for gamma < 1 at
  saturated logits),
* ``kornia``: ``kornia.losses.focal_loss`` (skipped when kornia is absent),
* ``ce``: ``F.cross_entropy``, the yardstick,

all in one process, interleaved (each round runs every method once, in a
rotating order) and summarized by medians; the ratio to ``ce`` is the median
of the per-round ratios. ``--logits saturated`` adds a margin of 12 to the
target logit so that almost every row has ``p_y > 1/2`` (late training),
which exercises the exact ``log(1 - p_y)`` path.

glibc returns freed blocks above its mmap threshold to the OS, so every
fresh (N, C) buffer page-faults; which method that penalizes most depends
on allocation order and changes timings severalfold. ``--malloc-reuse``
re-runs the script with the threshold raised to its 32 MiB maximum (and
trimming off), so that all methods reuse warm heap memory.

``--memory`` measures the peak extra resident memory of one forward+backward
(the input's gradient included) in a fresh process per run, with glibc's
mmap threshold pinned so that freed tensors leave RSS at once.

Usage::

    python benchmarks/bench_torch_loss.py               # timings
    python benchmarks/bench_torch_loss.py --threads 1   # steadier on a busy machine
    python benchmarks/bench_torch_loss.py --malloc-reuse
    python benchmarks/bench_torch_loss.py --memory      # peak memory
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from focalentropy.torch import focal_loss

SIZES = ((8192, 1000), (65536, 10))


def naive_focal(z, y, gamma):
    logp = F.log_softmax(z, 1)
    lp = logp.gather(1, y[:, None]).squeeze(1)
    return (-((1 - lp.exp()) ** gamma) * lp).mean()


def _kornia():
    try:
        import kornia.losses
    except ImportError:
        return None

    def kornia_focal(z, y, gamma):
        return kornia.losses.focal_loss(z, y, alpha=None, gamma=gamma, reduction="mean")

    return kornia_focal


def methods(gamma: float) -> dict:
    out = {
        "ours": lambda z, y: focal_loss(z, y, gamma),
        "naive": lambda z, y: naive_focal(z, y, gamma),
        "ce": lambda z, y: F.cross_entropy(z, y),
    }
    kornia_focal = _kornia()
    if kornia_focal is not None:
        out["kornia"] = lambda z, y: kornia_focal(z, y, gamma)
    return out


def make_inputs(n: int, c: int, logits: str, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, c, generator=gen)
    y = torch.randint(c, (n,), generator=gen)
    if logits == "saturated":
        z[torch.arange(n), y] += 12.0
    return z.requires_grad_(), y


def run_once(fn, z, y) -> float:
    z.grad = None
    start = time.perf_counter()
    fn(z, y).backward()
    return time.perf_counter() - start


def time_size(n, c, logits, gamma, repeats, warmup=3):
    fns = methods(gamma)
    z, y = make_inputs(n, c, logits)
    names = list(fns)
    times = {k: [] for k in names}
    for r in range(warmup + repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            t = run_once(fns[name], z, y)
            if r >= warmup:
                times[name].append(t)
    rows = {}
    for name in names:
        ratios = [a / b for a, b in zip(times[name], times["ce"], strict=True)]
        rows[name] = (statistics.median(times[name]), statistics.median(ratios))
    return rows


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory_child(name, n, c, logits, gamma) -> None:
    """Print the peak extra RSS (MiB) of one forward+backward (child process)."""
    fns = methods(gamma)
    fn = fns[name]
    small_z, small_y = make_inputs(64, c, logits)
    fn(small_z, small_y).backward()  # load kernels, thread pools
    z, y = make_inputs(n, c, logits)
    before = _status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak-RSS counter VmHWM
    fn(z, y).backward()
    peak = _status_kib("VmHWM")
    print(json.dumps({"extra_mib": (peak - before) / 1024}))


def memory(sizes, logits, gamma, repeats):
    names = list(methods(gamma))
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="0")
    print(f"\npeak extra memory of forward+backward (MiB, median of {repeats} fresh processes)")
    print(f"{'(N, C)':>14} {'logits':>10} " + " ".join(f"{k:>9}" for k in names))
    for n, c in sizes:
        res = {k: [] for k in names}
        for r in range(repeats):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                cmd = [sys.executable, __file__, "--child", name, str(n), str(c)]
                cmd += ["--logits", logits, "--gamma", str(gamma)]
                out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
                res[name].append(json.loads(out.stdout.strip().splitlines()[-1])["extra_mib"])
        tensor_mib = n * c * 4 / 2**20
        cells = " ".join(f"{statistics.median(res[k]):9.1f}" for k in names)
        print(f"{f'({n}, {c})':>14} {logits:>10} {cells}   (one (N, C) tensor: {tensor_mib:.1f})")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--gamma", type=float, default=2.0)
    parser.add_argument("--logits", choices=("random", "saturated", "both"), default="both")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--memory", action="store_true", help="measure peak memory instead")
    parser.add_argument(
        "--malloc-reuse", action="store_true", help="re-run with glibc reusing heap memory"
    )
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "N", "C"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    kinds = ("random", "saturated") if args.logits == "both" else (args.logits,)
    if args.malloc_reuse:
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(32 << 20))
        env["MALLOC_TRIM_THRESHOLD_"] = str(1 << 40)
        rest = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--malloc-reuse"]
        print("glibc: mmap threshold 32 MiB, no trimming (heap reuse)")
        sys.stdout.flush()
        subprocess.run([sys.executable, __file__, *rest], env=env, check=True)
        return
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.child:
        name, n, c = args.child
        memory_child(name, int(n), int(c), kinds[0], args.gamma)
        return
    if args.memory:
        for logits in kinds:
            memory(SIZES, logits, args.gamma, max(3, args.repeats // 3))
        return
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, gamma={args.gamma}, "
        f"float32 CPU, forward+backward, median of {args.repeats} interleaved rounds"
    )
    if _kornia() is None:
        print("kornia not installed: skipped")
    for logits in kinds:
        for n, c in SIZES:
            rows = time_size(n, c, logits, args.gamma, args.repeats)
            print(f"\n(N, C) = ({n}, {c}), {logits} logits")
            for name, (t, ratio) in rows.items():
                print(f"  {name:>7}: {t * 1e3:8.2f} ms   {ratio:5.2f} x cross_entropy")


if __name__ == "__main__":
    main()
