"""PyTorch side of `localsgd bench --compare-pytorch PYTHON`: a step server.

Takes its models and its training step from the shared peer script (`pytorch_bench.py`, passed
with --reference), so the work timed is exactly the one that script times. Reads one JSON
request per line on stdin,
    {"model": "cnn", "batch": 32, "threads": 1, "steps": 6, "warmup": 10}
and answers one JSON line on stdout, {"seconds": [wall time per step, ...], "cpu_seconds": [process
CPU time per step, ...], "torch": version}.
A configuration's (model, batch, threads), optimizer and data are built (and warmed up with `warmup` steps) on
its first request and kept, so the Swift side can alternate short rounds of ours and theirs.
"""
import argparse
import importlib.util
import json
import sys
import time

import torch
import torch.nn.functional as F


def load_reference(path):
    spec = importlib.util.spec_from_file_location("pytorch_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Config:
    """One model at one batch size, set up as pytorch_bench.py sets it up."""

    def __init__(self, models, name, batch):
        torch.manual_seed(0)
        self.model = models[name]().train()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9, nesterov=True,
                                   weight_decay=5e-4)
        self.x, self.y = torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,))

    def steps(self, count):
        """Wall and process CPU seconds of each of `count` steps."""
        wall, cpu = [], []
        for _ in range(count):
            t0, c0 = time.perf_counter(), time.process_time()
            self.opt.zero_grad(set_to_none=True)
            F.cross_entropy(self.model(self.x), self.y).backward()
            self.opt.step()
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        return wall, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", required=True, help="path of the shared pytorch_bench.py")
    args = ap.parse_args()
    models = load_reference(args.reference).MODELS
    configs = {}
    for line in sys.stdin:
        request = json.loads(line)
        torch.set_num_threads(request["threads"])
        key = (request["model"], request["batch"], request["threads"])
        if key not in configs:
            configs[key] = Config(models, *key[:2])
            configs[key].steps(request.get("warmup", 10))
        wall, cpu = configs[key].steps(request["steps"])
        print(json.dumps({"seconds": wall, "cpu_seconds": cpu, "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
