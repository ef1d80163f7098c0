"""Command line: python -m boatrain {train,eval,import-boa} ..."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def _threads(n: Optional[int]) -> None:
    import torch

    if n:
        torch.set_num_threads(n)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m boatrain", description="Train the boa-det float Mamba byte model.")
    sub = ap.add_subparsers(dest="cmd", required=True)

    t = sub.add_parser("train", help="train a float model on byte files")
    t.add_argument("data", nargs="+", help="training files (raw bytes)")
    t.add_argument("-o", "--out", required=True, help="output model.float.safetensors")
    t.add_argument("--d-model", type=int, default=256)
    t.add_argument("--layers", type=int, default=1)
    t.add_argument("--seq-len", type=int, default=512, help="bytes per training sequence (default 512)")
    t.add_argument("--chunk-len", type=int, default=0,
                   help="carry the state through chunks of this many bytes, seq-len at a time, as the "
                        "compressor codes them (0 = independent seq-len windows; default 0)")
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate (default 1e-3)")
    t.add_argument("--warmup", type=int, default=100, help="linear warm-up steps (default 100)")
    t.add_argument("--cosine", action="store_true", help="cosine decay to lr/10 over the planned steps")
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--grad-clip", type=float, default=1.0, help="max gradient norm, 0 = off (default 1)")
    t.add_argument("--epochs", type=int, default=1)
    t.add_argument("--max-steps", type=int, default=None, help="stop at this total step count")
    t.add_argument("--max-seconds", type=float, default=None, help="stop after this many seconds of this run")
    t.add_argument("--val-frac", type=float, default=0.1, help="tail fraction of each file held out (default 0.1)")
    t.add_argument("--val-bytes", type=int, default=65536,
                   help="validate on at most this many bytes of each file's tail, 0 = all (default 65536)")
    t.add_argument("--val-every", type=int, default=500, help="validate every N steps, 0 = only at the end")
    t.add_argument("--log-every", type=int, default=50)
    t.add_argument("--ckpt-every", type=int, default=200, help="write OUT.ckpt.pt every N steps")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--resume", metavar="CHECKPOINT", help="resume from an OUT.ckpt.pt")
    t.add_argument("--qat", action="store_true",
                   help="quantization-aware training: fake-quant q8 weights per channel and activations "
                        "at the engine's requantization sites, and the integer layer norm, scan and biases "
                        "of --qat-arith (straight-through gradients); also writes OUT.act_ranges.json")
    t.add_argument("--qat-arith", type=int, choices=(0, 1, 2), default=2,
                   help="arith version whose integer kernels --qat simulates; 0 = the sites only (default 2)")
    t.add_argument("--init", metavar="MODEL", help="start from a boa-float model (e.g. for QAT fine-tuning)")
    t.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    t.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")

    e = sub.add_parser("eval", help="bits/byte of a float model on files (state carried across each file)")
    e.add_argument("model")
    e.add_argument("data", nargs="+")
    e.add_argument("--max-bytes", type=int, default=0, help="only the first N bytes of each file, 0 = all")
    e.add_argument("--chunk", type=int, default=4096, help="bytes per parallel chunk (state is carried)")
    e.add_argument("--segment", type=int, default=0,
                   help="code each N-byte segment from the zero state after the priming byte, as "
                        "`boa-det compress --chunk-size N` does (comparable with `boa-det model eval`)")
    e.add_argument("--qat", action="store_true",
                   help="evaluate under fake-quant with the activation ranges in MODEL.act_ranges.json")
    e.add_argument("--threads", type=int, default=None)
    e.add_argument("--device", default=None)

    i = sub.add_parser("import-boa", help="convert a BOA .pt state_dict to boa-float safetensors")
    i.add_argument("checkpoint")
    i.add_argument("-o", "--out", required=True)

    a = ap.parse_args(argv)
    if a.cmd == "train":
        _threads(a.threads)
        from .train import TrainConfig, train

        cfg = TrainConfig(
            data=a.data, out=a.out, d_model=a.d_model, n_layers=a.layers, seq_len=a.seq_len, chunk_len=a.chunk_len,
            batch_size=a.batch_size, lr=a.lr, warmup=a.warmup, cosine=a.cosine, weight_decay=a.weight_decay,
            grad_clip=a.grad_clip, epochs=a.epochs, max_steps=a.max_steps, max_seconds=a.max_seconds,
            val_frac=a.val_frac, val_bytes=a.val_bytes, val_every=a.val_every, log_every=a.log_every,
            ckpt_every=a.ckpt_every, seed=a.seed, resume=a.resume, device=a.device,
            qat=a.qat, qat_arith=a.qat_arith or None, init=a.init)
        train(cfg)
        return 0
    if a.cmd == "eval":
        _threads(a.threads)
        from .train import evaluate_files

        tot_bits = tot_n = 0
        from .train import act_ranges_path

        res = evaluate_files(a.model, a.data, max_bytes=a.max_bytes, chunk=a.chunk, device=a.device,
                             qat_ranges=act_ranges_path(a.model) if a.qat else None, segment=a.segment)
        for path, bpb, n in res:
            print(f"{path}\t{bpb:.4f} bits/byte\t{n} bytes", flush=True)
            if n:
                tot_bits, tot_n = tot_bits + bpb * n, tot_n + n
        if len(res) > 1 and tot_n:
            print(f"total\t{tot_bits / tot_n:.4f} bits/byte\t{tot_n} bytes")
        return 0
    if a.cmd == "import-boa":
        from .io import import_boa

        try:
            cfg = import_boa(a.checkpoint, a.out)
        except ValueError as err:
            print(f"import-boa: {err}", file=sys.stderr)
            return 1
        print(f"wrote {a.out}: d_model={cfg.d_model} n_layers={cfg.n_layers}")
        return 0
    return 2
