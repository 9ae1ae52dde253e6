"""Our models and our training step in PyTorch, for the PyTorch side of the benchmarks.

The modules are built as `localsgd` builds them (Sources/NN/Models/ModelBuilder.swift), for
1×28×28 inputs and 10 classes:

- mlp: flatten, fc1 784→256, ReLU, fc2 256→256, ReLU, fc3 256→10.
- cnn: conv1 3×3 1→32 (pad 1), ReLU, max-pool 2; conv2 3×3 32→64 (pad 1), ReLU, max-pool 2;
  flatten (c, h, w), fc1 3136→128, ReLU, fc2 128→10.
- resnet20: CIFAR ResNet-20 (He et al. 2016, §4.2): conv1 3×3 1→16 without bias, bn1, ReLU;
  three stages of 3 basic blocks with 16, 32 and 64 channels, the first block of stages 2 and 3
  with stride 2; global average pool; fc 64→10. A basic block is conv3×3, BN, ReLU, conv3×3,
  BN, plus the shortcut, then ReLU. Where the shape changes the shortcut is a projection
  (1×1 convolution with stride, no bias, then BN: `localsgd bench`'s default) or, with
  `shortcut="zero-pad"`, option A (subsampling and zero channels on both sides).

Parameter names and shapes are ours (`layer2.0.downsample.0.weight`, ...), so a model file
written by `localsgd train` (final.safetensors) loads with `load_state_dict`. Initialisation is
ours too: He normal with fan-out for convolutions, He normal with fan-in for hidden linear
layers, N(0, 0.01²) for the classifier, zero biases, BN γ = 1 and β = 0 except γ = 0 in the
last BN of each residual block.

The GPTs (gpt-tiny: 4 layers, 4 heads, 128 features; gpt-mini: 2, 4, 64; gpt-micro: 2, 2, 32)
are ours (Sources/NN/Models/GPT.swift), i.e. nanoGPT's architecture with bias and without
dropout, written here from that description: token + learned position embeddings (wte, wpe),
pre-LayerNorm blocks (ln_1, causal self-attention with c_attn D→3D and c_proj D→D, ln_2, MLP
c_fc D→4D, GELU(approximate='tanh'), c_proj 4D→D), ln_f, and lm_head tied to wte, no bias. The
attention core is `F.scaled_dot_product_attention(is_causal=True)`, what nanoGPT and most
PyTorch users run on PyTorch ≥ 2.0 (on the CPU a fused flash-attention kernel). They read [N, T]
token ids (by default T = 64 of a 65-character vocabulary, as `localsgd bench`) and return
logits [N, T, V]; parameter names are nanoGPT's `state_dict` keys, so `load_model_file` loads a
GPT's final.safetensors (which holds no `lm_head.weight`: it is wte). Initialisation: N(0, 0.02²)
for linear and embedding weights, N(0, (0.02/√(2·n_layer))²) for both c_proj weights, zero
biases, LayerNorm weight 1 and bias 0.

The step (`train_step`) does the work of ours (Sources/Experiments/StepBenchmark.swift):
forward, mean cross-entropy (over the N·T tokens for a GPT), backward, and SGD with Nesterov
momentum 0.9 and weight decay 5e-4 on every parameter (`make_optimizer`), GPTs included.
"""
import functools
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SHORTCUTS = ("projection", "zero-pad")


def _he_fan_out(weight):
    fan_out = weight.shape[0] * math.prod(weight.shape[2:])
    nn.init.normal_(weight, 0.0, math.sqrt(2.0 / fan_out))


def _he_fan_in(weight):
    nn.init.normal_(weight, 0.0, math.sqrt(2.0 / math.prod(weight.shape[1:])))


def _initialize(model, classifier):
    """Our initialisers, module by module (the classifier last)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            _he_fan_out(m.weight)
        elif isinstance(m, nn.Linear) and m is not classifier:
            _he_fan_in(m.weight)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm2d)) and m.bias is not None:
            nn.init.zeros_(m.bias)
    nn.init.normal_(classifier.weight, 0.0, 0.01)


class MLP(nn.Module):
    def __init__(self, inputs=784, classes=10):
        super().__init__()
        self.fc1 = nn.Linear(inputs, 256)
        self.fc2 = nn.Linear(256, 256)
        self.fc3 = nn.Linear(256, classes)
        _initialize(self, self.fc3)

    def forward(self, x):
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc3(F.relu(self.fc2(x)))


class CNN(nn.Module):
    def __init__(self, channels=1, size=28, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * (size // 4) * (size // 4), 128)
        self.fc2 = nn.Linear(128, classes)
        _initialize(self, self.fc2)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def _conv3x3(cin, cout, stride):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride, shortcut):
        super().__init__()
        self.conv1 = _conv3x3(cin, cout, stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = _conv3x3(cout, cout, 1)
        self.bn2 = nn.BatchNorm2d(cout)
        self.stride, self.cin, self.cout = stride, cin, cout
        self.zero_pad = False
        if stride != 1 or cin != cout:
            if shortcut == "projection":
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                                nn.BatchNorm2d(cout))
            else:
                self.zero_pad = True

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        if hasattr(self, "downsample"):
            s = self.downsample(x)
        elif self.zero_pad:
            before = (self.cout - self.cin) // 2
            s = F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, before, self.cout - self.cin - before))
        else:
            s = x
        return F.relu(y + s)


class ResNet20(nn.Module):
    def __init__(self, channels=1, classes=10, shortcut="projection", blocks_per_stage=3):
        super().__init__()
        if shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be one of {SHORTCUTS}, got {shortcut!r}")
        self.conv1 = _conv3x3(channels, 16, 1)
        self.bn1 = nn.BatchNorm2d(16)
        cin = 16
        for stage, cout in enumerate((16, 32, 64)):
            blocks = []
            for i in range(blocks_per_stage):
                blocks.append(BasicBlock(cin, cout, 2 if i == 0 and stage > 0 else 1, shortcut))
                cin = cout
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(64, classes)
        _initialize(self, self.fc)
        for m in self.modules():
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(x.mean((2, 3)))


class CausalSelfAttention(nn.Module):
    def __init__(self, features, heads):
        super().__init__()
        self.heads = heads
        self.c_attn = nn.Linear(features, 3 * features)
        self.c_proj = nn.Linear(features, features)

    def forward(self, x):
        n, t, d = x.shape
        q, k, v = (z.view(n, t, self.heads, d // self.heads).transpose(1, 2) for z in self.c_attn(x).split(d, dim=2))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).reshape(n, t, d))


class GPTMLP(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.c_fc = nn.Linear(features, 4 * features)
        self.c_proj = nn.Linear(4 * features, features)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, features, heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(features)
        self.attn = CausalSelfAttention(features, heads)
        self.ln_2 = nn.LayerNorm(features)
        self.mlp = GPTMLP(features)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, layers, heads, features, vocabulary=65, context=64):
        super().__init__()
        self.layers, self.features, self.vocabulary, self.context = layers, features, vocabulary, context
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocabulary, features), wpe=nn.Embedding(context, features),
            h=nn.ModuleList(Block(features, heads) for _ in range(layers)), ln_f=nn.LayerNorm(features)))
        self.lm_head = nn.Linear(features, vocabulary, bias=False)
        self.lm_head.weight = self.transformer.wte.weight
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * layers))
            elif name.endswith(".weight") and ".ln_" not in name:
                nn.init.normal_(p, 0.0, 0.02)
            elif name.endswith(".bias"):
                nn.init.zeros_(p)
            # LayerNorm weights keep PyTorch's (and our) 1.

    def forward(self, idx):
        """Logits [N, T, V] of token ids [N, T]."""
        x = self.transformer.wte(idx) + self.transformer.wpe(torch.arange(idx.shape[1], device=idx.device))
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))

    def flops_per_sample(self):
        """Ours (`flopsPerSample`) per sequence of T tokens: per token 2·(12·L·D² + V·D) for the
        weights, 4·L·T·D for attention (full T×T), 8·D per LayerNorm and 8·4D per GELU."""
        l, d, t, v = self.layers, self.features, self.context, self.vocabulary
        return t * (2 * (12 * l * d * d + v * d) + 4 * l * t * d + 8 * d * (2 * l + 1) + 8 * 4 * d * l)


def load_model_file(model, path):
    """Loads our model file (safetensors, read here without the `safetensors` package) into
    `model`; a GPT's lm_head.weight, tied to wte, is the only key it may lack."""
    with open(path, "rb") as f:
        header_size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_size))
        data = bytearray(f.read())
    header.pop("__metadata__", None)
    dtypes = {"F32": (torch.float32, 4), "I64": (torch.int64, 8)}
    tensors = {}
    for name, info in header.items():
        (begin, end), (dtype, size) = info["data_offsets"], dtypes[info["dtype"]]
        tensors[name] = torch.frombuffer(data, dtype=dtype, count=(end - begin) // size, offset=begin).view(info["shape"])
    result = model.load_state_dict(tensors, strict=False)
    missing = [k for k in result.missing_keys if k != "lm_head.weight" or not isinstance(model, GPT)]
    if missing or result.unexpected_keys:
        raise ValueError(f"{path} does not match the model: missing {missing}, unexpected {result.unexpected_keys}")
    return model


MODELS = {"mlp": MLP, "cnn": CNN, "resnet20": ResNet20,
          "gpt-tiny": functools.partial(GPT, 4, 4, 128), "gpt-mini": functools.partial(GPT, 2, 4, 64),
          "gpt-micro": functools.partial(GPT, 2, 2, 32)}


SEQUENCE = {"context": 64, "vocabulary": 65}
"""What `localsgd bench` feeds a GPT: 64 token ids of a 65-character vocabulary (shakespeare_char)."""


def is_language_model(name):
    return name.startswith("gpt")


def build(models, name, shortcut="projection", sequence=None):
    """models[name](), passing `shortcut` to ResNets only when it is not the default (so a
    MODELS dict whose constructors take no arguments still works), and a GPT its `sequence`
    (context and vocabulary, SEQUENCE by default) when it is given."""
    if name not in models:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(models)}")
    if shortcut != "projection" and name.startswith("resnet"):
        return models[name](shortcut=shortcut)
    if sequence is not None and is_language_model(name):
        return models[name](**sequence)
    return models[name]()


def forward_flops(model, channels=1, size=28):
    """FLOPs of one sample's forward pass, counted as ours counts them (`flopsPerSample`):
    2·out·in·kh·kw·oh·ow per convolution, 2·in·out per linear layer, 4·c·h·w per BatchNorm; a
    GPT counts its own (`GPT.flops_per_sample`)."""
    if hasattr(model, "flops_per_sample"):
        return model.flops_per_sample()
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            total += 2 * module.weight.numel() * output.shape[2] * output.shape[3]
        elif isinstance(module, nn.Linear):
            total += 2 * module.in_features * module.out_features
        elif isinstance(module, nn.BatchNorm2d):
            total += 4 * output[0].numel()

    hooks = [m.register_forward_hook(count) for m in model.modules()
             if isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm2d))]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, channels, size, size))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return total


def make_optimizer(model, lr=0.01):
    """Ours: SGD, Nesterov momentum 0.9, weight decay 5e-4 on every parameter."""
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)


def train_step(model, optimizer, x, y):
    """One step: forward, mean cross-entropy (over every label: N, or N·T for a GPT), backward,
    optimizer step. Returns the loss."""
    optimizer.zero_grad(set_to_none=True)
    logits = model(x)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    loss.backward()
    optimizer.step()
    return loss


class StepSetup:
    """One model at one batch size as our bench sets it up: seed 0, random N(0, 1) images of
    1×28×28 and random labels (for a GPT, random token ids [N, T] and as many labels, of
    `sequence`), learning rate 0.01; the model in training mode."""

    def __init__(self, name, batch, models=None, shortcut="projection", sequence=None):
        torch.manual_seed(0)
        if is_language_model(name):
            sequence = sequence or SEQUENCE
            self.model = build(models or MODELS, name, shortcut, sequence).train()
            t, v = sequence["context"], sequence["vocabulary"]
            self.x, self.y = torch.randint(0, v, (batch, t)), torch.randint(0, v, (batch, t))
        else:
            self.model = build(models or MODELS, name, shortcut).train()
            self.x, self.y = torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
        self.optimizer = make_optimizer(self.model)

    def steps(self, count):
        """Wall and process CPU seconds of each of `count` steps."""
        wall, cpu = [], []
        for _ in range(count):
            t0, c0 = time.perf_counter(), time.process_time()
            train_step(self.model, self.optimizer, self.x, self.y)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        return wall, cpu
