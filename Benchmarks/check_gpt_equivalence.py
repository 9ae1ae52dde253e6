"""PyTorch's losses for one batch on our weights: the GPT of pytorch_models.py, loaded from a
model file written by `localsgd` (final.safetensors, or `ModelFile.write` in a test), trained
for a few steps of our bench's step (`train_step`: mean cross-entropy over the N·T tokens,
backward, SGD with Nesterov momentum 0.9 and weight decay 5e-4) on the same batch.

    python Benchmarks/check_gpt_equivalence.py MODEL_FILE BATCH_JSON --model gpt-micro

BATCH_JSON holds {"tokens": [[id, ...] × N], "labels": [[id, ...] × N], "learning_rate": 0.5,
"steps": 2}: N sequences of T token ids and their T labels each. The context length and the
vocabulary are the file's (rows of wpe and wte). Prints one JSON line,
    {"losses": [before, after step 1, ..., after step S], "losses_float64": [...]}
(the same in float64, a reference for both float32 implementations). With --expect L0,L1,...
(ours, e.g. `localsgd`'s), also prints the largest difference and exits 1 above --tolerance.
The Swift test ExperimentsTests/GPTPyTorchEquivalenceTests drives it (PYTHON=... swift test
--filter GPTPyTorchEquivalenceTests).
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pytorch_models  # noqa: E402


def shapes(path):
    with open(path, "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    return header["transformer.wte.weight"]["shape"], header["transformer.wpe.weight"]["shape"]


def losses(name, path, tokens, labels, lr, steps, dtype):
    (vocabulary, _), (context, _) = shapes(path)
    model = pytorch_models.build(pytorch_models.MODELS, name, sequence={"context": context, "vocabulary": vocabulary})
    pytorch_models.load_model_file(model, path)
    model = model.to(dtype).train()
    optimizer = pytorch_models.make_optimizer(model, lr=lr)
    result = []
    for _ in range(steps):
        result.append(pytorch_models.train_step(model, optimizer, tokens, labels).item())
    with torch.no_grad():
        logits = model(tokens)
        result.append(torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)).item())
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_file")
    ap.add_argument("batch_json")
    ap.add_argument("--model", required=True, choices=[n for n in pytorch_models.MODELS if pytorch_models.is_language_model(n)])
    ap.add_argument("--expect", help="our losses, comma-separated, to compare with PyTorch's float32 ones")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="largest accepted absolute difference")
    args = ap.parse_args()
    with open(args.batch_json) as f:
        batch = json.load(f)
    tokens, labels = torch.tensor(batch["tokens"]), torch.tensor(batch["labels"])
    lr, steps = batch.get("learning_rate", 0.5), batch.get("steps", 2)
    torch.set_num_threads(1)
    report = {"losses": losses(args.model, args.model_file, tokens, labels, lr, steps, torch.float32),
              "losses_float64": losses(args.model, args.model_file, tokens, labels, lr, steps, torch.float64)}
    status = 0
    if args.expect:
        ours = [float(v) for v in args.expect.split(",")]
        if len(ours) != len(report["losses"]):
            ap.error(f"--expect has {len(ours)} losses, PyTorch computed {len(report['losses'])}")
        report["largest_difference"] = max(abs(a - b) for a, b in zip(ours, report["losses"]))
        status = 0 if report["largest_difference"] <= args.tolerance else 1
    print(json.dumps(report), flush=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
