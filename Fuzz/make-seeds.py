#!/usr/bin/env python3
"""Writes the small seed inputs of Fuzz/corpus/<target>/ (run from the repository root)."""
import gzip, json, os, struct

def put(target, name, data):
    os.makedirs(f"Fuzz/corpus/{target}", exist_ok=True)
    with open(f"Fuzz/corpus/{target}/{name}", "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)

def gz(data):
    return gzip.compress(data, mtime=0)

# IDX: images (magic 0x803, N x rows x cols) and labels (0x801, N), plain and gzip.
images = struct.pack(">IIII", 0x803, 2, 3, 3) + bytes(range(18))
labels = struct.pack(">II", 0x801, 3) + bytes([0, 9, 4])
put("idx", "images.idx", images)
put("idx", "labels.idx", labels)
put("idx", "images.idx.gz", gz(images))
put("idx", "labels-two-members.idx.gz", gz(labels[:5]) + gz(labels[5:]))

# CIFAR: one CIFAR-10 record (label + 3072 pixels) and one CIFAR-100 record (coarse, fine + 3072).
put("cifar", "cifar10-record.bin", bytes([7]) + bytes(i % 251 for i in range(3072)))
put("cifar", "cifar100-record.bin", bytes([3, 42]) + bytes(i % 13 for i in range(3072)))
put("cifar", "cifar10-record.bin.gz", gz(bytes([1]) + bytes(3072)))

# safetensors: 8-byte little-endian header length, JSON header, data.
def safetensors(tensors, metadata=None):
    header, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data

floats = struct.pack("<4f", 1.0, -2.5, 0.0, 3.25)
put("safetensors", "model.safetensors", safetensors(
    {"fc.weight": ("F32", [2, 2], floats), "bn.num_batches_tracked": ("I64", [], struct.pack("<q", 12))},
    {"format": "pt", "model": "mlp"}))
header = {"version": 1, "step": 4, "workers": 1, "localWorkers": [0], "parameterCount": 4, "stateCount": 0,
          "previousLearningRates": [0.1], "strategy": {"counters": {}, "buffers": {}}, "history": [],
          "epochState": {}, "totalTime": {}, "trainingBytes": 0, "config": {}}
put("safetensors", "checkpoint.safetensors", safetensors(
    {"worker.0.parameters": ("F32", [4], floats), "worker.0.momentum": ("F32", [4], floats)},
    {"localsgd.checkpoint": json.dumps(header)}))

# Run config files: the same settings in the three formats.
put("toml", "run.toml", 'model = "cnn"\nepochs = 3\nbatch_size = 32\nlr = 0.05\nalgorithm = "local"\n'
    'local_steps = 4\nworkers = 8\ndecay_epochs = [2, 3]\ncheckpoint_every = "1e"\n')
put("toml", "nested.toml", 'group_size = [2]\nglobal_every = 4\nnetwork = "10gbit:50us"\nx = { a = [1, 2.5, "s"] }\n')
put("yaml", "run.yaml", "model: cnn\nepochs: 3\nbatch-size: 32\nlr: 5e-2\nalgorithm: local\nlocal_steps: 4\n"
    "decay_epochs: &d [2, 3]\nglobal_every: *d\nnesterov: yes\n")
put("yaml", "block.yaml", "group_size:\n  - 2\n  - 4\nnetwork: '1gbit:100us,nodes-of=8'\n? seed\n: 7\n")
put("json", "run.json", json.dumps({"model": "cnn", "epochs": 3, "batch-size": 32, "lr": 0.05, "algorithm": "local",
                                     "local_steps": 4, "decay_epochs": [2, 3], "checkpoint_every": "500"}))

# Sweep files: the first byte picks the format (0 TOML, 1 YAML, 2 JSON).
put("sweep", "grid.toml", '0model = "logreg"\nepochs = 1\nseeds = [1, 2]\n[axes]\nlocal_steps = [1, 4]\nworkers = [2, 8]\n'
    '[[include]]\nalgorithm = "post-local"\nswitch_epoch = [0, 1]\n')
put("sweep", "grid.yaml", "1model: logreg\naxes:\n  workers: [1, 2]\ninclude:\n  - {algorithm: hierarchical, workers: 4, group_size: [2]}\n")
put("sweep", "grid.json", "2" + json.dumps({"model": "logreg", "axes": {"lr": [0.1, 0.2]}, "seeds": [3]}))

# --network and --checkpoint-every.
for i, spec in enumerate(["10gbit:50us", "1gbit:100us,nodes-of=8,intra=100gbit:2us", "100mbit:1ms", "25GB/s:0.5us"]):
    put("network", f"spec-{i}", spec)
for i, text in enumerate(["500", "1e", "2epochs", " 3 steps ", "1000000000"]):
    put("checkpoint-every", f"period-{i}", text)
