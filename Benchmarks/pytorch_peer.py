"""PyTorch side of `localsgd bench --compare-pytorch PYTHON`: a step server.

Takes its models and its training step from pytorch_models.py (next to this script; --reference
names another file with a `MODELS` dict of the same names), so the work timed is the one
pytorch_bench.py times. Reads one JSON request per line on stdin,
    {"model": "cnn", "batch": 32, "threads": 1, "steps": 6, "warmup": 10, "shortcut": "projection"}
("shortcut", for ResNets, is optional: projection by default; a GPT's request may add
"context": 64, "vocabulary": 65, its token sequences, pytorch_models.SEQUENCE by default) and answers one JSON line on stdout,
{"seconds": [wall time per step, ...], "cpu_seconds": [process CPU time per step, ...], "torch": version}.
A configuration's (model, batch, threads, shortcut, sequence), optimizer and data are built (and warmed up
with `warmup` steps) on its first request and kept, so the Swift side can alternate short rounds
of ours and theirs.
"""
import argparse
import importlib.util
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import pytorch_models  # noqa: E402


def load_models(path):
    """The MODELS dict of the Python file at `path`."""
    spec = importlib.util.spec_from_file_location("reference_models", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MODELS


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", default=os.path.join(HERE, "pytorch_models.py"),
                    help="Python file whose MODELS dict builds the models (default: pytorch_models.py here)")
    args = ap.parse_args()
    models = load_models(args.reference)
    configs = {}
    for line in sys.stdin:
        request = json.loads(line)
        torch.set_num_threads(request["threads"])
        shortcut = request.get("shortcut", "projection")
        sequence = {k: request[k] for k in ("context", "vocabulary") if k in request} or None
        key = (request["model"], request["batch"], request["threads"], shortcut, json.dumps(sequence))
        if key not in configs:
            configs[key] = pytorch_models.StepSetup(key[0], key[1], models=models, shortcut=shortcut,
                                                    sequence=sequence)
            configs[key].steps(request.get("warmup", 10))
        wall, cpu = configs[key].steps(request["steps"])
        print(json.dumps({"seconds": wall, "cpu_seconds": cpu, "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
