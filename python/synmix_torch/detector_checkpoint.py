"""Detector checkpoints: safetensors with the model's own tensor names and synmix metadata.

| metadata key | value |
|---|---|
| `synmix.config` | `{architecture, model, backbone, classes, pretrained_backbone}`: the detector is rebuilt from it |
| `synmix.input` | `{mean, std, test_short_side, test_max_size, detections_per_image}`: the normalisation the detector was trained with and its prediction settings (all used on load) |
| `synmix.version` | the writer |
| `synmix.training` | training checkpoints: `{step, options, data}` — the run's options and the data position (plan.py) |

SGD's momentum buffers travel as tensors `optimizer.momentum_buffer.NAME`. A checkpoint is someone else's
file: a named `CheckpointError` for a file that is not one, metadata that does not parse or is out of
range, another architecture, missing, extra or misshapen tensors — never a trap or a silent default.
"""
import json
import math
import os
import stat

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from . import __version__
from .detection import ARCHITECTURE, BACKBONES, DETECTIONS_PER_IMAGE, MODELS, build

MOMENTUM_PREFIX = "optimizer.momentum_buffer."
# A test scale beyond this (pixels on a side) is no image synmix packs: docs/formats.md's 2^28-pixel budget.
MAX_SIDE = 1 << 14
# More detections than this per image is no setting anyone evaluates with (COCO and Cityscapes use 100).
MAX_DETECTIONS = 1000


class CheckpointError(ValueError):
    pass


def compact(value):
    return json.dumps(value, separators=(",", ":"))


def save(model, path, input_settings, training=None, optimizer=None):
    """Writes `path` under a temporary name and renames it when complete."""
    model = getattr(model, "module", model)
    tensors = {name: value.detach().to("cpu").contiguous() for name, value in model.state_dict().items()}
    metadata = {"synmix.config": compact(model.config), "synmix.input": compact(input_settings),
                "synmix.version": f"synmix-torch {__version__}"}
    if training is not None:
        metadata["synmix.training"] = compact(training)
        names = {id(p): n for n, p in model.named_parameters()}
        for group in optimizer.param_groups:
            for parameter in group["params"]:
                buffer = optimizer.state.get(parameter, {}).get("momentum_buffer")
                if buffer is not None:
                    tensors[MOMENTUM_PREFIX + names[id(parameter)]] = buffer.detach().to("cpu").float().contiguous()
    temporary = path + ".tmp"
    save_file(tensors, temporary, metadata=metadata)
    os.replace(temporary, path)


def _metadata_json(metadata, key, path):
    if key not in metadata:
        raise CheckpointError(f"{path}: no {key} metadata: not a synmix detector checkpoint")
    try:
        return json.loads(metadata[key])
    except ValueError as error:
        raise CheckpointError(f"{path}: {key} metadata is not JSON ({error})") from None


def require_regular_file(path):
    """Someone else's file is checked before it is opened: a FIFO would block, a folder is no checkpoint."""
    try:
        kind = os.stat(path).st_mode
    except OSError as error:
        raise CheckpointError(f"{path}: {error.strerror}") from None
    if not stat.S_ISREG(kind):
        raise CheckpointError(f"{path}: not a regular file")


def read(path):
    """(tensors, metadata) of a safetensors file."""
    require_regular_file(path)
    try:
        with safe_open(path, framework="pt") as f:
            return {name: f.get_tensor(name) for name in f.keys()}, (f.metadata() or {})
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path}: not a readable safetensors file ({error})") from None


def check_config(config, path):
    if not isinstance(config, dict) or config.get("architecture") != ARCHITECTURE:
        raise CheckpointError(f"{path}: a checkpoint of another architecture ({compact(config)[:200]}); "
                              f"this loader reads {ARCHITECTURE} (train-shards reads the synmix network's)")
    if config.get("model") not in MODELS or config.get("backbone") not in BACKBONES:
        raise CheckpointError(f"{path}: unknown model or backbone in {compact(config)[:200]}")
    classes = config.get("classes")
    if not (isinstance(classes, list) and classes and all(isinstance(c, str) and c for c in classes) and len(set(classes)) == len(classes)):
        raise CheckpointError(f"{path}: classes must be a list of distinct names, got {compact(classes)[:200]}")


def check_input(settings, path):
    def numbers(value):
        return isinstance(value, list) and len(value) == 3 and all(isinstance(v, (int, float)) and math.isfinite(v) for v in value)
    if not isinstance(settings, dict) or not numbers(settings.get("mean")) or not numbers(settings.get("std")) \
            or not all(v > 0 for v in settings["std"]):
        raise CheckpointError(f"{path}: synmix.input needs mean and std, three finite numbers each (std > 0), got {compact(settings)[:200]}")
    for key, limit in (("test_short_side", MAX_SIDE), ("test_max_size", MAX_SIDE), ("detections_per_image", MAX_DETECTIONS)):
        value = settings.get(key, DETECTIONS_PER_IMAGE if key == "detections_per_image" else None)
        if not (isinstance(value, int) and 0 < value <= limit):
            raise CheckpointError(f"{path}: synmix.input {key} must be a whole number in 1…{limit}, got {value!r}")


def load(path):
    """(detector, input settings, training state or None, momentum buffers) of a checkpoint."""
    tensors, metadata = read(path)
    config = _metadata_json(metadata, "synmix.config", path)
    check_config(config, path)
    settings = _metadata_json(metadata, "synmix.input", path)
    check_input(settings, path)
    detector = build(config["model"], config["classes"], config["backbone"], config.get("pretrained_backbone", False),
                     settings["mean"], settings["std"])
    weights = {k: v for k, v in tensors.items() if not k.startswith(MOMENTUM_PREFIX)}
    expected = detector.state_dict()
    problems = [f"missing {n}" for n in expected if n not in weights][:5]
    problems += [f"unexpected {n}" for n in weights if n not in expected][:5]
    problems += [f"{n} is {tuple(weights[n].shape)} {weights[n].dtype}, the model's is {tuple(t.shape)} {t.dtype}"
                 for n, t in expected.items() if n in weights and (weights[n].shape != t.shape or weights[n].dtype != t.dtype)][:5]
    if problems:
        raise CheckpointError(f"{path}: tensors do not fit {config['model']} {config['backbone']}: " + "; ".join(problems))
    detector.load_state_dict(weights, strict=True)
    detector.roi_heads.detections_per_img = settings.get("detections_per_image", DETECTIONS_PER_IMAGE)
    training = _metadata_json(metadata, "synmix.training", path) if "synmix.training" in metadata else None
    if training is not None and not (isinstance(training, dict) and isinstance(training.get("step"), int) and training["step"] >= 0
                                     and isinstance(training.get("data"), dict) and isinstance(training.get("options"), dict)):
        raise CheckpointError(f"{path}: synmix.training must hold a step ≥ 0, the options and the data position")
    momentum = {k[len(MOMENTUM_PREFIX):]: v for k, v in tensors.items() if k.startswith(MOMENTUM_PREFIX)}
    return detector, settings, training, momentum


def is_detector_checkpoint(path):
    """Whether `path` is a safetensors file carrying a synmix detector config (else: a plain state dict)."""
    if not path.endswith(".safetensors"):
        return False
    require_regular_file(path)
    try:
        with safe_open(path, framework="pt") as f:   # the header only: the tensors are read once, by load
            metadata = f.metadata() or {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path}: not a readable safetensors file ({error})") from None
    try:
        return json.loads(metadata.get("synmix.config", "{}")).get("architecture") == ARCHITECTURE
    except (ValueError, AttributeError):
        return False


def load_weights_file(path):
    """A plain state dict from a .pth (torch.load, tensors only) or a .safetensors file."""
    if path.endswith(".safetensors"):
        return read(path)[0]
    require_regular_file(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(f"{path}: not a PyTorch state dict ({error})") from None
    state = state.get("model", state) if isinstance(state, dict) else state
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: not a state dict of tensors")
    return state


def load_partial(module, state, path, what):
    """Copies the tensors of `state` whose names and shapes fit `module`; returns (loaded, skipped names).
    A file that fits nothing is an error: it is not the weights it claims to be."""
    own = module.state_dict()
    fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not fitting:
        raise CheckpointError(f"{path}: no tensor fits the {what} (is it the right file?)")
    module.load_state_dict(fitting, strict=False)
    skipped = sorted(k for k in own if k not in fitting)
    return len(fitting), skipped
