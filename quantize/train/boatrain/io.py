"""Float model files (safetensors, format "boa-float") and BOA checkpoint import."""

from __future__ import annotations

import re
from typing import Dict, Mapping

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .model import BoaModel, ModelConfig, expected_shapes

FORMAT = "boa-float"


def infer_config(sd: Mapping[str, torch.Tensor]) -> ModelConfig:
    """d_model from embedding.weight, n_layers from the block indices."""
    if "embedding.weight" not in sd:
        raise ValueError("missing tensor embedding.weight")
    emb = sd["embedding.weight"]
    if emb.dim() != 2 or emb.shape[0] != 256:
        raise ValueError(f"embedding.weight has shape {tuple(emb.shape)}, expected (256, d_model)")
    idx = {int(m.group(1)) for k in sd for m in [re.match(r"blocks\.(\d+)\.", k)] if m}
    n = max(idx) + 1 if idx else 0
    if n == 0:
        raise ValueError("no blocks.{i}.* tensors found")
    return ModelConfig(d_model=int(emb.shape[1]), n_layers=n)


def check_state_dict(sd: Mapping[str, torch.Tensor], cfg: ModelConfig) -> None:
    """Raise ValueError unless sd has exactly BOA's names and shapes for cfg."""
    exp = expected_shapes(cfg)
    missing = sorted(set(exp) - set(sd))
    extra = sorted(set(sd) - set(exp))
    bad = sorted(k for k in exp if k in sd and tuple(sd[k].shape) != exp[k])
    msgs = []
    if missing:
        msgs.append(f"missing tensors: {missing}")
    if extra:
        msgs.append(f"unexpected tensors: {extra}")
    if bad:
        msgs.append("wrong shapes: " + ", ".join(f"{k} {tuple(sd[k].shape)} != {exp[k]}" for k in bad))
    if msgs:
        raise ValueError(f"not a BOA model with d_model={cfg.d_model}, n_layers={cfg.n_layers}: " + "; ".join(msgs))


def float_state_dict(model: BoaModel) -> Dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}


def save_float(sd_or_model, path: str) -> ModelConfig:
    """Write a float32 safetensors file with BOA names and boa-float metadata."""
    sd = float_state_dict(sd_or_model) if isinstance(sd_or_model, torch.nn.Module) else {
        k: v.detach().to("cpu", torch.float32).contiguous() for k, v in sd_or_model.items()}
    cfg = infer_config(sd)
    check_state_dict(sd, cfg)
    meta = {"format": FORMAT, "d_model": str(cfg.d_model), "n_layers": str(cfg.n_layers)}
    save_file(sd, path, metadata=meta)
    return cfg


def load_float(path: str, device=None) -> BoaModel:
    """Load a boa-float safetensors file into a BoaModel."""
    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
        sd = {k: f.get_tensor(k) for k in f.keys()}
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: metadata format is {meta.get('format')!r}, expected {FORMAT!r}")
    cfg = ModelConfig(d_model=int(meta["d_model"]), n_layers=int(meta["n_layers"]))
    check_state_dict(sd, cfg)
    model = BoaModel(cfg)
    model.load_state_dict(sd)
    return model.to(device) if device is not None else model


_PREFIXES = ("module.", "_orig_mod.")


def extract_boa_state_dict(obj) -> Dict[str, torch.Tensor]:
    """Accept a raw state_dict or a dict wrapping it under model_state_dict / state_dict;
    strip DataParallel ``module.`` and torch.compile ``_orig_mod.`` prefixes; cast to float32."""
    if isinstance(obj, Mapping):
        for key in ("model_state_dict", "state_dict"):
            if key in obj and isinstance(obj[key], Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping):
        raise ValueError(f"checkpoint is a {type(obj).__name__}, not a state_dict")
    sd = {}
    for k, v in obj.items():
        if not isinstance(v, torch.Tensor):
            raise ValueError(f"checkpoint entry {k!r} is not a tensor (is this a state_dict?)")
        changed = True
        while changed:
            changed = False
            for p in _PREFIXES:
                if k.startswith(p):
                    k, changed = k[len(p):], True
        if k in sd:
            raise ValueError(f"duplicate tensor {k!r} after prefix stripping")
        sd[k] = v.detach().to("cpu", torch.float32).contiguous()
    return sd


def import_boa(ckpt_path: str, out_path: str) -> ModelConfig:
    obj = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    sd = extract_boa_state_dict(obj)
    cfg = infer_config(sd)
    check_state_dict(sd, cfg)
    # sanity: the parameters load into our model
    BoaModel(cfg).load_state_dict(sd)
    save_float(sd, out_path)
    return cfg
