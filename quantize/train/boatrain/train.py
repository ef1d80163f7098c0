"""Training loop, checkpoints and bits/byte evaluation."""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .data import ChunkBatcher, EpochBatcher, load_splits
from .io import load_float, save_float
from .model import BoaModel, ModelConfig
from .quant import ActQuant, QuantConfig

LN2 = math.log(2.0)


def log(msg: str) -> None:
    print(msg, flush=True)


@torch.no_grad()
def eval_bits(model: BoaModel, data: np.ndarray, chunk: int = 4096) -> Tuple[float, int]:
    """Total bits and number of predicted bytes for one byte stream.

    The stream starts from the zero state and the state is carried across chunks, so the
    result equals a byte-by-byte ``step`` evaluation.  Byte 0 has no prediction: bytes
    1..n-1 are scored, each from the logits after the bytes before it.
    """
    n = len(data)
    if n < 2:
        return 0.0, 0
    was_training = model.training
    model.eval()
    dev = model.embedding.weight.device
    t = torch.from_numpy(data.astype(np.int64)).to(dev)
    state = model.zero_state(1)
    total = 0.0
    for i in range(0, n - 1, chunk):
        x = t[i:min(i + chunk, n - 1)].unsqueeze(0)
        y = t[i + 1:i + 1 + x.shape[1]].unsqueeze(0)
        logits, state = model(x, state, return_state=True)
        total += F.cross_entropy(logits.reshape(-1, 256).float(), y.reshape(-1), reduction="sum").item()
    model.train(was_training)
    return total / LN2, n - 1


@torch.no_grad()
def eval_segments(model: BoaModel, data: np.ndarray, seg_len: int, batch: int = 32) -> Tuple[float, int]:
    """Total bits and bytes when ``data`` is coded as ``boa-det compress --chunk-size
    seg_len`` codes it: every segment from the zero state, its byte 0 predicted after the
    priming byte 0x00, every byte scored.  Segments of equal length run as one batch."""
    n = len(data)
    if n == 0:
        return 0.0, 0
    was_training = model.training
    model.eval()
    dev = model.embedding.weight.device
    t = torch.from_numpy(data.astype(np.int64)).to(dev)
    full = n // seg_len
    total = 0.0

    def score(targets: torch.Tensor) -> float:
        inputs = torch.cat([torch.zeros_like(targets[:, :1]), targets[:, :-1]], dim=1)
        logits = model(inputs)
        return F.cross_entropy(logits.reshape(-1, 256).float(), targets.reshape(-1), reduction="sum").item()

    segs = t[:full * seg_len].reshape(full, seg_len) if full else t[:0].reshape(0, seg_len)
    for i in range(0, full, batch):
        total += score(segs[i:i + batch])
    if n > full * seg_len:
        total += score(t[full * seg_len:].unsqueeze(0))
    model.train(was_training)
    return total / LN2, n


@dataclass
class TrainConfig:
    data: List[str]
    out: str
    d_model: int = 256
    n_layers: int = 1
    seq_len: int = 512
    chunk_len: int = 0  # > 0: carry the state through chunks of this many bytes (ChunkBatcher)
    batch_size: int = 16
    lr: float = 1e-3
    warmup: int = 100
    cosine: bool = False
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    epochs: int = 1
    max_steps: Optional[int] = None
    max_seconds: Optional[float] = None
    val_frac: float = 0.1
    val_bytes: int = 65536
    val_every: int = 500
    log_every: int = 50
    ckpt_every: int = 200
    seed: int = 0
    resume: Optional[str] = None
    device: Optional[str] = None
    qat: bool = False             # fake-quant training (the engine's sites, see quant.py)
    qat_arith: Optional[int] = 2  # with qat: the arith version whose integer kernels are simulated (None: sites only)
    init: Optional[str] = None    # start from this boa-float model (e.g. QAT fine-tuning)


def _qat_label(cfg: "TrainConfig") -> str:
    if cfg.qat_arith is None:
        return ", QAT (fake-quant sites)"
    return f", QAT (fake-quant sites and the integer kernels of arith v{cfg.qat_arith})"


def ckpt_path(out: str) -> str:
    return out + ".ckpt.pt"


def act_ranges_path(out: str) -> str:
    return out + ".act_ranges.json"


def observer_state(model) -> dict:
    """Activation observers (QAT) by site name: [absmax, seen]."""
    return {n: [float(m.absmax), bool(m.seen)] for n, m in model.named_modules() if isinstance(m, ActQuant)}


def load_observer_state(model, obs: dict) -> None:
    for n, m in model.named_modules():
        if isinstance(m, ActQuant) and n in obs:
            m.absmax.fill_(obs[n][0])
            m.seen.fill_(bool(obs[n][1]))


def _lr_at(cfg: TrainConfig, step: int, total: Optional[int]) -> float:
    if cfg.warmup > 0 and step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    if cfg.cosine and total:
        p = min(1.0, (step - cfg.warmup) / max(1, total - cfg.warmup))
        return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))
    return cfg.lr


def validate(model: BoaModel, splits, max_bytes: int, per_file: bool = False) -> Optional[float]:
    bits, n = 0.0, 0
    for s in splits:
        v = s.val[:max_bytes] if max_bytes > 0 else s.val
        b, k = eval_bits(model, v)
        if per_file and k:
            log(f"  val {s.path}: {b / k:.4f} bits/byte over {k} bytes")
        bits, n = bits + b, n + k
    return bits / n if n else None


def train(cfg: TrainConfig) -> dict:
    """Train; write cfg.out (boa-float safetensors) and cfg.out + '.ckpt.pt'. Returns a summary."""
    device = torch.device(cfg.device) if cfg.device else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    ck = None
    if cfg.resume:
        ck = torch.load(cfg.resume, map_location="cpu", weights_only=True)
        mc = ModelConfig(**ck["model_config"])
        seed = int(ck["seed"])
        if (mc.d_model, mc.n_layers) != (cfg.d_model, cfg.n_layers):
            log(f"resume: using the checkpoint's d_model={mc.d_model} n_layers={mc.n_layers}")
        for k in ("seq_len", "batch_size"):
            if ck["train"].get(k) != getattr(cfg, k):
                log(f"resume: using the checkpoint's {k}={ck['train'][k]}")
                setattr(cfg, k, ck["train"][k])
        if bool(ck["train"].get("qat", False)) != cfg.qat:
            log(f"resume: using the checkpoint's qat={bool(ck['train'].get('qat', False))}")
            cfg.qat = bool(ck["train"].get("qat", False))
        # checkpoints from before the kernel simulation have no qat_arith: sites only
        if ck["train"].get("qat_arith") != cfg.qat_arith and cfg.qat:
            log(f"resume: using the checkpoint's qat_arith={ck['train'].get('qat_arith')}")
            cfg.qat_arith = ck["train"].get("qat_arith")
    else:
        mc = ModelConfig(d_model=cfg.d_model, n_layers=cfg.n_layers)
        seed = cfg.seed

    torch.manual_seed(seed)
    np.random.seed(seed % (2 ** 32))
    splits = load_splits(cfg.data, cfg.val_frac)
    if cfg.chunk_len:
        batcher = ChunkBatcher(splits, cfg.seq_len, cfg.batch_size, seed, cfg.chunk_len)
    else:
        batcher = EpochBatcher(splits, cfg.seq_len, cfg.batch_size, seed)
    model = BoaModel(mc)
    if cfg.init and ck is None:
        init = load_float(cfg.init)
        if init.cfg != mc:
            log(f"init: using {cfg.init}'s d_model={init.cfg.d_model} n_layers={init.cfg.n_layers}")
            mc = init.cfg
        model = init
        log(f"initialised from {cfg.init}")
    if cfg.qat:
        model.set_quant(QuantConfig(int_arith=cfg.qat_arith))
    model = model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.999), weight_decay=cfg.weight_decay)
    epoch = step_in_epoch = global_step = 0
    bytes_seen = 0
    if ck is not None:
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        epoch, step_in_epoch, global_step = int(ck["epoch"]), int(ck["step_in_epoch"]), int(ck["step"])
        bytes_seen = int(ck.get("bytes_seen", 0))
        load_observer_state(model, ck.get("observers", {}))
        log(f"resumed from {cfg.resume} at step {global_step} (epoch {epoch}, step {step_in_epoch} in epoch)")

    total = batcher.steps_per_epoch * cfg.epochs
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps)
    n_train = sum(len(s.train) for s in splits)
    n_val = sum(len(s.val) for s in splits)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"device {device}, threads {torch.get_num_threads()}, d_model {mc.d_model}, layers {mc.n_layers}, "
        f"{n_params:,} parameters{_qat_label(cfg) if cfg.qat else ''}")
    log(f"data: {len(splits)} files, {n_train:,} train bytes, {n_val:,} validation bytes; "
        f"{batcher.steps_per_epoch} steps/epoch of {cfg.batch_size}x{cfg.seq_len} bytes; planned steps {total}")

    def save_ckpt():
        tmp = ckpt_path(cfg.out) + ".tmp"
        torch.save({
            "model": model.state_dict(), "optimizer": opt.state_dict(),
            "model_config": {"d_model": mc.d_model, "n_layers": mc.n_layers},
            "seed": seed, "epoch": epoch, "step_in_epoch": step_in_epoch, "step": global_step,
            "bytes_seen": bytes_seen, "observers": observer_state(model),
            "train": {k: v for k, v in asdict(cfg).items() if isinstance(v, (int, float, str, bool)) or v is None},
        }, tmp)
        os.replace(tmp, ckpt_path(cfg.out))

    model.train()
    t_start = time.perf_counter()
    t_log, bytes_log, loss_sum, loss_n = t_start, 0, 0.0, 0
    last_train = None
    stop = None
    carried = None  # the state carried between pieces of a chunk (--chunk-len)
    try:
        while stop is None:
            if epoch >= cfg.epochs:
                stop = "epochs done"
                break
            if step_in_epoch >= batcher.steps_per_epoch:
                epoch, step_in_epoch = epoch + 1, 0
                continue
            if cfg.max_steps is not None and global_step >= cfg.max_steps:
                stop = "max steps"
                break
            if cfg.max_seconds is not None and time.perf_counter() - t_start >= cfg.max_seconds:
                stop = "max seconds"
                break
            batch = torch.from_numpy(batcher.batch(epoch, step_in_epoch)).to(device).long()
            x, y = batch[:, :-1], batch[:, 1:]
            lr = _lr_at(cfg, global_step, total)
            for g in opt.param_groups:
                g["lr"] = lr
            if cfg.chunk_len:
                # truncated BPTT through the chunk; a resumed run restarts mid-chunk from zero
                if carried is None or batcher.starts_chunk(step_in_epoch):
                    carried = model.zero_state(x.shape[0])
                logits, carried = model(x, carried, return_state=True)
                carried = [tuple(t.detach() for t in st) for st in carried]
            else:
                logits = model(x)
            loss = F.cross_entropy(logits.reshape(-1, 256).float(), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            step_in_epoch += 1
            global_step += 1
            bytes_seen += y.numel()
            bytes_log += y.numel()
            loss_sum += loss.item()
            loss_n += 1
            if global_step % cfg.log_every == 0:
                now = time.perf_counter()
                last_train = loss_sum / loss_n / LN2
                log(f"step {global_step}/{total} epoch {epoch} train {last_train:.4f} bits/byte lr {lr:.2e} "
                    f"{bytes_log / max(now - t_log, 1e-9):,.0f} B/s elapsed {now - t_start:.1f}s")
                t_log, bytes_log, loss_sum, loss_n = now, 0, 0.0, 0
            if cfg.val_every > 0 and global_step % cfg.val_every == 0:
                v = validate(model, splits, cfg.val_bytes)
                if v is not None:
                    log(f"step {global_step} val {v:.4f} bits/byte")
            if cfg.ckpt_every > 0 and global_step % cfg.ckpt_every == 0:
                save_ckpt()
    except KeyboardInterrupt:
        stop = "interrupted"
    if loss_n:
        last_train = loss_sum / loss_n / LN2
    elapsed = time.perf_counter() - t_start
    save_ckpt()
    save_float(model, cfg.out)
    wrote = f"{cfg.out} and {ckpt_path(cfg.out)}"
    if cfg.qat:
        with open(act_ranges_path(cfg.out), "w") as f:
            json.dump({n: v[0] for n, v in observer_state(model).items()}, f, indent=1, sort_keys=True)
        wrote += f" and {act_ranges_path(cfg.out)}"
    log(f"stopped ({stop}) at step {global_step}, {elapsed:.1f}s; wrote {wrote}")
    v = validate(model, splits, cfg.val_bytes, per_file=len(splits) > 1)
    if v is not None:
        log(f"final val {v:.4f} bits/byte")
    if last_train is not None:
        log(f"final train {last_train:.4f} bits/byte (mean over the last logging interval)")
    return {"step": global_step, "epoch": epoch, "val_bpb": v, "train_bpb": last_train, "elapsed": elapsed,
            "stop": stop}


def evaluate_files(model_path: str, paths: Sequence[str], max_bytes: int = 0, chunk: int = 4096,
                   device: Optional[str] = None, qat_ranges: Optional[str] = None,
                   segment: int = 0) -> List[Tuple[str, float, int]]:
    """bits/byte per file; with qat_ranges (an OUT.act_ranges.json) under fake-quant."""
    dev = torch.device(device) if device else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = load_float(model_path)
    if qat_ranges:
        with open(qat_ranges) as f:
            ranges = json.load(f)
        sites = {n for n, m in model.named_modules() if isinstance(m, ActQuant) and m.fixed_scale is None}
        missing = sites - set(ranges)
        if missing and all(n.endswith(".inc_q") for n in missing):
            # ranges written before the kernel simulation (no increment observer): sites only
            model.set_quant(QuantConfig(int_arith=None))
        elif missing:
            raise ValueError(f"{qat_ranges} lacks sites: {sorted(missing)}")
        else:
            model.set_quant(QuantConfig())
        load_observer_state(model, {n: [v, True] for n, v in ranges.items()})
    model = model.to(dev)
    res = []
    for p in paths:
        data = np.fromfile(p, dtype=np.uint8)
        if max_bytes > 0:
            data = data[:max_bytes]
        bits, n = eval_segments(model, data, segment) if segment > 0 else eval_bits(model, data, chunk=chunk)
        res.append((p, bits / n if n else float("nan"), n))
    return res

