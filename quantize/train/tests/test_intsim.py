"""The PyTorch integer simulation (boatrain.intsim) against the real engine: the
frequencies are bit-exact, so the code lengths agree up to the order of the final
floating-point sum of -log2 p (relative 1e-12 covers it with a wide margin: the sum
has at most a few thousand terms, each with a relative rounding error of 2^-53)."""

import json
import os
import pathlib
import subprocess

import pytest

from boatrain.intsim import code_length

ROOT = pathlib.Path(__file__).resolve().parents[3]
VEC = ROOT / "portability-vectors"


def _bin() -> str:
    for p in (os.environ.get("BOA_DET_BIN"), ROOT / "target/release/boa-det", ROOT / "target/debug/boa-det"):
        if p and pathlib.Path(p).exists():
            return str(p)
    pytest.fail("boa-det is not built (cargo build --release), or set BOA_DET_BIN")


def _engine_bits(model: pathlib.Path, data: pathlib.Path, chunk: int) -> float:
    out = subprocess.run([_bin(), "model", "eval", str(model), str(data), "--chunk-size", str(chunk), "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[0])["bits"]


@pytest.mark.parametrize("model", ["d16-l1", "d32-l2", "adv-d32-l1", "d48-l1", "d64-l2", "v2-d32-l2", "v2-adv-d32-l1"])
@pytest.mark.parametrize("inp", ["text", "f32-table"])
def test_synthetic_models_match_the_engine(model, inp):
    m, d = VEC / "models" / f"{model}.safetensors", VEC / "inputs" / f"{inp}.bin"
    bits, n = code_length(str(m), d.read_bytes(), 300)
    assert n == d.stat().st_size
    want = _engine_bits(m, d, 300)
    assert abs(bits - want) <= 1e-12 * want, (bits, want)


@pytest.mark.parametrize("name", ["default-v1-d128", "default-v2-d128", "default-v3-d128", "default-v4-d128",
                                  "default-v5-d128"])
def test_default_models_match_the_engine(name):
    m = ROOT / f"src/default_models/{name}.safetensors"
    d = VEC / "archives/mixed.bin"
    bits, n = code_length(str(m), d.read_bytes(), 4096)
    want = _engine_bits(m, d, 4096)
    assert abs(bits - want) <= 1e-12 * want, (bits, want)
