"""PyTorch side of Benchmarks/time_to_accuracy.sh: trains a model of pytorch_models.py (ours, in
PyTorch) on Fashion-MNIST with the recipe `localsgd train` uses, and prints one JSON line per epoch:
    {"epoch": 1, "seconds": cumulative training + evaluation seconds, "test_accuracy": 0.885, ...}

Recipe: pixels/255 standardised with the training set's mean and population std; no
augmentation; SGD with Nesterov momentum 0.9, weight decay 5e-4 on all parameters, lr =
batch·base/256 with a half-cosine over the epochs updated once per epoch (as `--lr-schedule
cosine`); per-epoch reshuffle; evaluation of the whole test set in batches of 256 after every
epoch (counted in `seconds`, as ours counts it).

  python Benchmarks/pytorch_train.py --model cnn --epochs 3 --batch 128 --threads 2

--reference names another Python file with a `MODELS` dict to take the model from.
"""
import argparse
import gzip
import importlib.util
import json
import math
import os
import sys
import time

import numpy as np
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


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", default=os.path.join(HERE, "pytorch_models.py"),
                    help="Python file whose MODELS dict builds the model (default: pytorch_models.py here)")
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1, help="base rate; the run uses batch*lr/256")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    models = load_models(args.reference)

    def images(name):
        return read_idx(os.path.join(args.data_dir, name)).astype(np.float32) / 255

    train_x, test_x = images("train-images-idx3-ubyte.gz"), images("t10k-images-idx3-ubyte.gz")
    mean, std = train_x.mean(), train_x.std()
    train_x = torch.from_numpy((train_x - mean) / std).unsqueeze(1)
    test_x = torch.from_numpy((test_x - mean) / std).unsqueeze(1)
    train_y = torch.from_numpy(read_idx(os.path.join(args.data_dir, "train-labels-idx1-ubyte.gz")).astype(np.int64))
    test_y = torch.from_numpy(read_idx(os.path.join(args.data_dir, "t10k-labels-idx1-ubyte.gz")).astype(np.int64))

    model = pytorch_models.build(models, args.model)
    peak = args.batch * args.lr / 256
    opt = pytorch_models.make_optimizer(model, lr=peak)
    steps = len(train_x) // args.batch  # full batches only, as ours
    elapsed = 0.0
    for epoch in range(args.epochs):
        for group in opt.param_groups:
            group["lr"] = peak * 0.5 * (1 + math.cos(math.pi * epoch / args.epochs))
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(train_x))
        loss_sum = 0.0
        for m in range(steps):
            idx = order[m * args.batch:(m + 1) * args.batch]
            loss = pytorch_models.train_step(model, opt, train_x[idx], train_y[idx])
            loss_sum += loss.item()
        model.eval()
        correct = 0
        with torch.no_grad():
            for lo in range(0, len(test_x), 256):
                correct += (model(test_x[lo:lo + 256]).argmax(1) == test_y[lo:lo + 256]).sum().item()
        elapsed += time.perf_counter() - start
        print(json.dumps({"epoch": epoch + 1, "seconds": elapsed, "train_loss": loss_sum / steps,
                          "test_accuracy": correct / len(test_x), "lr": opt.param_groups[0]["lr"]}), flush=True)


if __name__ == "__main__":
    main()
