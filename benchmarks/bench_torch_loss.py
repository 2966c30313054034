"""Forward+backward time and peak memory of the focal losses, eager and compiled.

Times, on CPU, ``loss(z, y).backward()`` for

* ``ours``: ``focalentropy.torch.focal_loss``,
* ``naive``: log_softmax, gather, pow (NaN gradients for gamma < 1 at
  saturated logits),
* ``kornia``: ``kornia.losses.focal_loss`` (listed where kornia is installed),
* ``ce``: ``F.cross_entropy``, the yardstick,

in eager mode and compiled with ``torch.compile`` (inductor; each method
compiled on its own, the yardstick being compiled ``F.cross_entropy``), all in
one process, interleaved (each round runs every method once, in a rotating
order). Reported: the median time and the median and minimum of the
per-round ratios to ``ce``. Shapes: (8192, 1000), (65536, 10) and a
segmentation batch (32, 21, 128, 128). ``--logits saturated`` adds a margin
of 12 to the target logit (late training: ``p_y > 1/2`` almost everywhere).

``--sigmoid`` times ``sigmoid_focal_loss`` against
``F.binary_cross_entropy_with_logits`` and the torchvision formula written
out (``naive``), on (65536, 80) multi-label logits.

``--memory`` measures the peak extra resident memory of one forward+backward
(the input's gradient included) in a fresh process per run, with glibc's
mmap threshold pinned so that freed tensors leave RSS at once.

Usage::

    python benchmarks/bench_torch_loss.py                  # eager and compiled
    python benchmarks/bench_torch_loss.py --mode eager --threads 1
    python benchmarks/bench_torch_loss.py --sigmoid --memory
    python benchmarks/bench_torch_loss.py --mode compiled --threads 1 --clock cpu --shape 65536,10

``--clock cpu`` times this thread's CPU time instead of wall time (with one
thread that is all the work): steadier when other jobs share the machine.
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

from focalentropy.torch import focal_loss, sigmoid_focal_loss

SIZES = ((8192, 1000), (65536, 10), (32, 21, 128, 128))
SIGMOID_SIZES = ((65536, 80),)


def naive_focal(z, y, gamma):
    logp = F.log_softmax(z, 1)
    lp = logp.gather(1, y.unsqueeze(1)).squeeze(1)
    return (-((1 - lp.exp()) ** gamma) * lp).mean()


def naive_sigmoid(x, t, gamma, alpha=0.25):
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * (1 - p_t) ** gamma
    return ((alpha * t + (1 - alpha) * (1 - t)) * loss).mean()


def _kornia():
    try:
        import kornia.losses
    except ImportError:
        return None
    return kornia.losses.focal_loss


def methods(gamma: float, sigmoid: bool = False) -> dict:
    if sigmoid:
        return {
            "ours": lambda x, t: sigmoid_focal_loss(x, t, 0.25, gamma, "mean"),
            "naive": lambda x, t: naive_sigmoid(x, t, gamma),
            "ce": lambda x, t: F.binary_cross_entropy_with_logits(x, t),
        }
    out = {
        "ours": lambda z, y: focal_loss(z, y, gamma),
        "naive": lambda z, y: naive_focal(z, y, gamma),
        "ce": lambda z, y: F.cross_entropy(z, y),
    }
    kornia_focal = _kornia()
    if kornia_focal is not None:
        out["kornia"] = lambda z, y: kornia_focal(z, y, alpha=None, gamma=gamma, reduction="mean")
    return out


def make_inputs(shape, logits: str, sigmoid: bool = False, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(shape, generator=gen)
    if sigmoid:
        t = (torch.rand(shape, generator=gen) < 0.05).float()
        if logits == "saturated":
            z += 12.0 * (2 * t - 1)
        return z.requires_grad_(), t
    c = shape[1]
    y = torch.randint(c, (shape[0], *shape[2:]), generator=gen)
    if logits == "saturated":
        z.scatter_add_(1, y.unsqueeze(1), torch.full(y.unsqueeze(1).shape, 12.0))
    return z.requires_grad_(), y


#: wall time, or this thread's CPU time (``--clock cpu``)
CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}


def run_once(fn, z, y, clock=time.perf_counter) -> float:
    z.grad = None
    start = clock()
    fn(z, y).backward()
    return clock() - start


def time_shape(fns, z, y, repeats, warmup=3, clock=time.perf_counter):
    names = list(fns)
    times = {k: [] for k in names}
    for r in range(warmup + repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            t = run_once(fns[name], z, y, clock)
            if r >= warmup:
                times[name].append(t)
    rows = {}
    for name in names:
        ratios = [a / b for a, b in zip(times[name], times["ce"], strict=True)]
        rows[name] = (statistics.median(times[name]), statistics.median(ratios), min(ratios))
    return rows


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory_child(name, shape, logits, gamma, sigmoid) -> None:
    """Print the peak extra RSS (MiB) of one forward+backward (child process)."""
    fn = methods(gamma, sigmoid)[name]
    small = (64, *shape[1:])
    fn(*make_inputs(small, logits, sigmoid)).backward()  # load kernels, thread pools
    z, y = make_inputs(shape, logits, sigmoid)
    before = _status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak-RSS counter VmHWM
    fn(z, y).backward()
    peak = _status_kib("VmHWM")
    print(json.dumps({"extra_mib": (peak - before) / 1024}))


def memory(sizes, logits, gamma, repeats, sigmoid):
    names = list(methods(gamma, sigmoid))
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="0")
    print(f"\npeak extra memory of forward+backward (MiB, median of {repeats} fresh processes)")
    print(f"{'shape':>20} {'logits':>10} " + " ".join(f"{k:>9}" for k in names))
    for shape in sizes:
        res = {k: [] for k in names}
        for r in range(repeats):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                cmd = [sys.executable, __file__, "--child", name, ",".join(map(str, shape))]
                cmd += ["--logits", logits, "--gamma", str(gamma)]
                if sigmoid:
                    cmd.append("--sigmoid")
                out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
                res[name].append(json.loads(out.stdout.strip().splitlines()[-1])["extra_mib"])
        numel = 1
        for s in shape:
            numel *= s
        cells = " ".join(f"{statistics.median(res[k]):9.1f}" for k in names)
        print(f"{shape!s:>20} {logits:>10} {cells}   (the logits: {numel * 4 / 2**20:.1f})")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--gamma", type=float, default=2.0)
    parser.add_argument("--logits", choices=("random", "saturated", "both"), default="random")
    parser.add_argument("--mode", choices=("eager", "compiled", "both"), default="both")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument(
        "--clock",
        choices=tuple(CLOCKS),
        default="wall",
        help="cpu: this thread's CPU time (needs --threads 1; steadier on a loaded machine)",
    )
    parser.add_argument(
        "--shape", action="append", help="only this shape, e.g. 65536,10 (repeatable)"
    )
    parser.add_argument("--sigmoid", action="store_true", help="the sigmoid focal loss")
    parser.add_argument("--memory", action="store_true", help="measure peak memory instead")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "SHAPE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    kinds = ("random", "saturated") if args.logits == "both" else (args.logits,)
    modes = ("eager", "compiled") if args.mode == "both" else (args.mode,)
    sizes = SIGMOID_SIZES if args.sigmoid else SIZES
    if args.shape:
        sizes = tuple(tuple(int(n) for n in s.split(",")) for s in args.shape)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.clock == "cpu" and torch.get_num_threads() != 1:
        parser.error("--clock cpu measures one thread: add --threads 1")
    if args.child:
        name, shape = args.child
        shape = tuple(int(s) for s in shape.split(","))
        memory_child(name, shape, kinds[0], args.gamma, args.sigmoid)
        return
    if args.memory:
        for logits in kinds:
            memory(sizes, logits, args.gamma, max(3, args.repeats // 3), args.sigmoid)
        return
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, gamma={args.gamma}, "
        f"float32 CPU, forward+backward, {args.repeats} interleaved rounds, {args.clock} clock"
    )
    if not args.sigmoid and _kornia() is None:
        print("kornia not installed: skipped")
    for mode in modes:
        for logits in kinds:
            for shape in sizes:
                fns = methods(args.gamma, args.sigmoid)
                if mode == "compiled":
                    torch._dynamo.reset()
                    fns = {k: torch.compile(f) for k, f in fns.items()}
                z, y = make_inputs(shape, logits, args.sigmoid)
                rows = time_shape(fns, z, y, args.repeats, clock=CLOCKS[args.clock])
                print(f"\n{mode}, shape {shape}, {logits} logits (ratio to {mode} ce: median, min)")
                for name, (t, ratio, low) in rows.items():
                    print(f"  {name:>7}: {t * 1e3:8.2f} ms   {ratio:5.2f} x   (min {low:4.2f} x)")
                sys.stdout.flush()


if __name__ == "__main__":
    main()
