"""PyTorch's training step on its own: the work `localsgd bench` times, with the models and step
of pytorch_models.py, and one JSON object per model × batch × threads with the keys of
`localsgd bench --json`:

    {"model": "cnn", "batch": 32, "threads": 1, "ms_per_step": 19.1, "samples_per_s": 1675.4,
     "gflops": 42.6, "sgemm_gflops": 150.2, "load_average": 0.8}

GPTs (gpt-tiny, gpt-mini, gpt-micro) read random sequences of 64 token ids of a 65-character
vocabulary, one label per token, as `localsgd bench` feeds ours.

- ms_per_step: median over --steps timed steps after --warmup untimed ones (wall clock, or
  process CPU time with --cpu-time).
- gflops: 3 × forward FLOPs per step (counted as ours counts them) / step time.
- sgemm_gflops: torch.mm of 512×512 matrices (median of 10) on `threads` threads. Ours runs one
  single-threaded sgemm per thread at once instead; with one thread the two are the same.
- load_average: the 1-minute load average when the configuration started (absent off Linux).

Usage, from the repository root:
  python Benchmarks/pytorch_bench.py --models cnn --batches 32 --threads 1
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pytorch_models  # noqa: E402


def int_list(text):
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got {text!r}")
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected integers of at least 1, got {text!r}")
    return values


def sgemm_gflops(n=512, repeats=10, cpu_time=False):
    clock = time.process_time if cpu_time else time.perf_counter
    a, b = torch.randn(n, n), torch.randn(n, n)
    times = []
    for _ in range(repeats + 2):
        t0 = clock()
        torch.mm(a, b)
        times.append(clock() - t0)
    return 2 * n ** 3 / statistics.median(times[2:]) / 1e9


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="mlp,cnn,resnet20", help="comma-separated, from: " + ", ".join(pytorch_models.MODELS))
    ap.add_argument("--batches", type=int_list, default=[32, 128], help="comma-separated batch sizes")
    ap.add_argument("--threads", type=int_list, default=[1, 2], help="comma-separated torch thread counts")
    ap.add_argument("--steps", type=int, default=30, help="timed steps per configuration (median reported)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed warm-up steps")
    ap.add_argument("--shortcut", choices=pytorch_models.SHORTCUTS, default="projection",
                    help="shortcut of ResNets where the shape changes (as `localsgd bench --shortcut`)")
    ap.add_argument("--cpu-time", action="store_true", help="process CPU time per step instead of wall time")
    args = ap.parse_args()
    names = args.models.split(",")
    unknown = [n for n in names if n not in pytorch_models.MODELS]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(pytorch_models.MODELS)}")
    if args.steps < 1 or args.warmup < 0:
        ap.error("--steps must be at least 1 and --warmup at least 0")
    print(f"torch {torch.__version__}", file=sys.stderr)

    for name in names:
        for batch in args.batches:
            for threads in args.threads:
                load = load_average()
                torch.set_num_threads(threads)
                setup = pytorch_models.StepSetup(name, batch, shortcut=args.shortcut)
                setup.steps(args.warmup)
                sgemm = sgemm_gflops(cpu_time=args.cpu_time)
                wall, cpu = setup.steps(args.steps)
                median = statistics.median(cpu if args.cpu_time else wall)
                flops = 3 * pytorch_models.forward_flops(setup.model) * batch
                row = {"model": name, "batch": batch, "threads": threads, "ms_per_step": median * 1e3,
                       "samples_per_s": batch / median, "gflops": flops / median / 1e9, "sgemm_gflops": sgemm}
                if load is not None:
                    row["load_average"] = load
                print(json.dumps(row, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
