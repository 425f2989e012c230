"""Checkpoints in synmix's format (docs/formats.md, "Checkpoints"): float32 tensors under the
module's own names, int64 `num_batches_tracked`, and the metadata `train-shards` writes and
reads — `synmix.config`, `synmix.version`, `synmix.input` and, for training checkpoints,
`synmix.training` with the AdamW moments as `optimizer.exp_avg.NAME` / `optimizer.exp_avg_sq.NAME`.
So `train-shards evaluate --model` scores a PyTorch-trained model, and either side initialises the other.
"""
import json
import os

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from . import __version__
from .model import Net
from .targets import INPUT_MEAN, INPUT_STD


def compact(value):
    return json.dumps(value, separators=(",", ":"))


def save(model, path, input_size, optimizer=None, step=None, optimizer_step=None, epoch=0):
    """Writes `path` under a temporary name and renames it when complete."""
    model = getattr(model, "module", model)   # a DDP wrapper's module
    tensors = {name: value.detach().to("cpu").contiguous() for name, value in model.state_dict().items()}
    metadata = {
        "synmix.config": compact(model.config),
        "synmix.version": f"synmix-torch {__version__}",
        "synmix.input": compact({"size": list(input_size), "mean": INPUT_MEAN, "std": INPUT_STD}),
    }
    if optimizer is not None:
        names = {id(p): n for n, p in model.named_parameters()}
        for group in optimizer.param_groups:
            for parameter in group["params"]:
                state = optimizer.state.get(parameter, {})
                if "exp_avg" in state:
                    tensors[f"optimizer.exp_avg.{names[id(parameter)]}"] = state["exp_avg"].detach().to("cpu").float().contiguous()
                    tensors[f"optimizer.exp_avg_sq.{names[id(parameter)]}"] = state["exp_avg_sq"].detach().to("cpu").float().contiguous()
        metadata["synmix.training"] = compact({"step": step, "optimizer_step": optimizer_step, "epochs": [epoch], "positions": [0]})
    temporary = path + ".tmp"
    save_file(tensors, temporary, metadata=metadata)
    os.replace(temporary, path)


def read(path):
    """(tensors, metadata) of a safetensors file."""
    with safe_open(path, framework="pt") as f:
        return {name: f.get_tensor(name) for name in f.keys()}, (f.metadata() or {})


def load_model(path):
    """The network a synmix checkpoint holds (either side's), its input size (W, H) or None, and
    its training state (metadata dict and moments) or None."""
    tensors, metadata = read(path)
    if "synmix.config" not in metadata:
        raise ValueError(f"{path}: no synmix.config metadata: not a synmix checkpoint")
    config = json.loads(metadata["synmix.config"])
    net = Net(config["width"], config["classes"])
    weights = {k: v for k, v in tensors.items() if not k.startswith("optimizer.")}
    net.load_state_dict(weights, strict=True)
    size = tuple(json.loads(metadata["synmix.input"])["size"]) if "synmix.input" in metadata else None
    training = None
    if "synmix.training" in metadata:
        moments = {k: v for k, v in tensors.items() if k.startswith("optimizer.")}
        training = (json.loads(metadata["synmix.training"]), moments)
    return net, size, training


def restore_optimizer(model, optimizer, moments, optimizer_step):
    """Puts a checkpoint's AdamW moments back into a torch.optim.AdamW over `model`'s parameters."""
    model = getattr(model, "module", model)
    for name, parameter in model.named_parameters():
        optimizer.state[parameter] = {
            "step": torch.tensor(float(optimizer_step)),
            "exp_avg": moments[f"optimizer.exp_avg.{name}"].to(parameter.device),
            "exp_avg_sq": moments[f"optimizer.exp_avg_sq.{name}"].to(parameter.device),
        }
