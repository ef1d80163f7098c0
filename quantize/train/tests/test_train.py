import json

import numpy as np
import torch
from safetensors import safe_open

from boatrain.io import load_float
from boatrain.train import TrainConfig, act_ranges_path, ckpt_path, eval_bits, train


def _data(tmp_path, n=6000):
    # a small, learnable byte string: repeated text with a counter
    text = "".join(f"E {i % 97} 0.{(i * 37) % 1000:03d} pt eta phi\n" for i in range(400)).encode()
    p = tmp_path / "data.txt"
    p.write_bytes(text[:n])
    return str(p)


def _cfg(tmp_path, data, **kw):
    base = dict(data=[data], out=str(tmp_path / "m.float.safetensors"), d_model=16, n_layers=1, seq_len=64,
                batch_size=4, lr=3e-3, warmup=0, max_steps=30, val_frac=0.1, val_bytes=2048, val_every=0,
                log_every=1000, ckpt_every=0, seed=0, device="cpu", epochs=100)
    base.update(kw)
    return TrainConfig(**base)


def _first_loss(model, data_path):
    data = np.fromfile(data_path, dtype=np.uint8)[:2000]
    bits, n = eval_bits(model, data)
    return bits / n


def test_tiny_model_learns(tmp_path):
    data = _data(tmp_path)
    cfg = _cfg(tmp_path, data, max_steps=0)
    train(cfg)
    before = _first_loss(load_float(cfg.out), data)
    cfg = _cfg(tmp_path, data, max_steps=40)
    res = train(cfg)
    after = _first_loss(load_float(cfg.out), data)
    assert res["step"] == 40
    assert after < before - 1.0, (before, after)
    assert res["val_bpb"] < 7.0
    with safe_open(cfg.out, framework="pt") as f:
        meta = f.metadata()
        assert meta == {"format": "boa-float", "d_model": "16", "n_layers": "1"}
        assert all(f.get_tensor(k).dtype == torch.float32 for k in f.keys())


def test_deterministic_with_seed(tmp_path):
    data = _data(tmp_path)
    outs = []
    for i in range(2):
        cfg = _cfg(tmp_path, data, out=str(tmp_path / f"m{i}.safetensors"), max_steps=5)
        train(cfg)
        outs.append(load_float(cfg.out).state_dict())
    assert all(torch.equal(outs[0][k], outs[1][k]) for k in outs[0])


def test_resume_continues_step_count(tmp_path):
    data = _data(tmp_path)
    # straight run of 8 steps
    straight = _cfg(tmp_path, data, out=str(tmp_path / "a.safetensors"), max_steps=8, warmup=3)
    train(straight)
    # 5 steps, then resume to 8
    part = _cfg(tmp_path, data, out=str(tmp_path / "b.safetensors"), max_steps=5, warmup=3)
    train(part)
    ck = torch.load(ckpt_path(part.out), weights_only=True)
    assert ck["step"] == 5
    resumed = _cfg(tmp_path, data, out=str(tmp_path / "b.safetensors"), max_steps=8, warmup=3,
                   resume=ckpt_path(part.out))
    res = train(resumed)
    assert res["step"] == 8
    assert torch.load(ckpt_path(part.out), weights_only=True)["step"] == 8
    a = load_float(straight.out).state_dict()
    b = load_float(resumed.out).state_dict()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k


def test_periodic_checkpoint_and_epochs(tmp_path):
    data = _data(tmp_path, n=2000)
    cfg = _cfg(tmp_path, data, max_steps=None, epochs=2, ckpt_every=2)
    res = train(cfg)
    # 1800 train bytes -> 28 windows of 65 bytes -> 7 steps per epoch
    assert res["step"] == 14 and res["epoch"] == 2
    assert torch.load(ckpt_path(cfg.out), weights_only=True)["step"] == 14


def test_qat_training_and_resume_keeps_observers(tmp_path):
    data = _data(tmp_path)
    base = _cfg(tmp_path, data, out=str(tmp_path / "f.safetensors"), max_steps=10)
    train(base)
    q = _cfg(tmp_path, data, out=str(tmp_path / "q.safetensors"), max_steps=4, qat=True, init=base.out, lr=1e-3)
    train(q)
    ck = torch.load(ckpt_path(q.out), weights_only=True)
    obs = ck["observers"]
    assert ck["train"]["qat"] and obs["blocks.0.ln1.out_q"][1] and obs["blocks.0.ln1.out_q"][0] > 0
    ranges = json.load(open(act_ranges_path(q.out)))
    assert set(ranges) == set(obs)
    res = train(_cfg(tmp_path, data, out=str(tmp_path / "q.safetensors"), max_steps=6, resume=ckpt_path(q.out)))
    assert res["step"] == 6 and res["val_bpb"] < 8
    with safe_open(q.out, framework="pt") as f:  # QAT output is still a plain boa-float file
        assert f.metadata()["format"] == "boa-float"


def test_chunk_batcher_walks_each_chunk_in_order():
    from boatrain.data import ChunkBatcher, FileSplit
    buf = np.arange(1000, dtype=np.int64).astype(np.uint8)
    b = ChunkBatcher([FileSplit("x", buf, buf[:0])], seq_len=16, batch_size=3, seed=1, chunk_len=64)
    assert b.pieces == 4 and b.steps_per_epoch == b.inner.steps_per_epoch * 4
    for g in range(b.inner.steps_per_epoch):
        whole = b.inner.batch(0, g)
        pieces = [b.batch(0, g * 4 + p) for p in range(4)]
        assert b.starts_chunk(g * 4) and not b.starts_chunk(g * 4 + 1)
        # consecutive pieces overlap by one byte (the target of one is the input of the next)
        for p, piece in enumerate(pieces):
            assert piece.shape == (3, 17)
            assert np.array_equal(piece, whole[:, p * 16:p * 16 + 17])


def test_carried_state_training_learns(tmp_path):
    data = _data(tmp_path)
    cfg = _cfg(tmp_path, data, max_steps=0, chunk_len=256)
    train(cfg)
    before = _first_loss(load_float(cfg.out), data)
    cfg = _cfg(tmp_path, data, max_steps=40, chunk_len=256)
    res = train(cfg)
    after = _first_loss(load_float(cfg.out), data)
    assert res["step"] == 40
    assert after < before - 0.5, (before, after)


def test_eval_segments_equals_stepping_each_segment(tmp_path):
    from boatrain.model import BoaModel, ModelConfig
    from boatrain.train import eval_segments
    torch.manual_seed(0)
    model = BoaModel(ModelConfig(d_model=16, n_layers=1))
    data = np.frombuffer(b"E 1 0.25 pt eta phi\n" * 13, dtype=np.uint8)
    bits, n = eval_segments(model, data, seg_len=100, batch=2)
    assert n == len(data)
    want = 0.0
    for s in range(0, len(data), 100):
        state = model.zero_state(1)
        prev = 0
        for b in data[s:s + 100]:
            logits, state = model.step(torch.tensor([prev]), state)
            want -= torch.log_softmax(logits[0].double(), -1)[int(b)].item()
            prev = int(b)
    assert abs(bits - want / np.log(2)) < 1e-3 * bits
