"""The Python package against the CLI: same bytes, each decodes the other's,
and bad input is a BoaError, never a crash. BOA_DET_BIN names the CLI."""

import os
import subprocess

import numpy as np
import pytest

import boa_det

CLI = os.environ.get("BOA_DET_BIN", "boa-det")


def event_text(n_lines: int) -> bytes:
    rng = np.random.default_rng(7)
    lines = [
        f"P {i} {rng.integers(-20, 20)} {rng.normal():.6e} {rng.normal():.6e} {rng.normal():.6e} 1\n"
        for i in range(n_lines)
    ]
    return "".join(lines).encode()


def float_table(rows: int) -> np.ndarray:
    rng = np.random.default_rng(8)
    return np.stack(
        [rng.normal(50, 10, rows), rng.uniform(-2.5, 2.5, rows), rng.uniform(-3.14, 3.14, rows)], axis=1
    ).astype(np.float32)


@pytest.fixture(scope="module")
def samples():
    return {"text": event_text(3000), "table": float_table(20000).tobytes(), "empty": b"", "one": b"x"}


def cli(*args: str, data: bytes = b"") -> bytes:
    return subprocess.run([CLI, *args], input=data, check=True, capture_output=True).stdout


@pytest.mark.parametrize("name", ["text", "table", "empty", "one"])
def test_same_bytes_as_the_cli_and_each_decodes_the_other(samples, name, tmp_path):
    data = samples[name]
    path = tmp_path / name
    path.write_bytes(data)
    ours = boa_det.compress(data)
    theirs = cli("-q", "-c", str(path))
    assert ours == theirs
    assert boa_det.decompress(theirs) == data
    packed = tmp_path / f"{name}.boa"
    packed.write_bytes(ours)
    assert cli("-q", "-dc", str(packed)) == data


def test_threads_do_not_change_the_bytes(samples):
    data = samples["text"] + samples["table"]
    one = boa_det.compress(data, threads=1)
    assert boa_det.compress(data, threads=2) == one
    assert boa_det.decompress(one, threads=1) == boa_det.decompress(one, threads=2) == data


def test_any_buffer_is_accepted(samples):
    table = float_table(5000)
    blob = boa_det.compress(table)
    assert blob == boa_det.compress(table.tobytes())
    assert np.frombuffer(boa_det.decompress(blob), dtype=np.float32).reshape(table.shape).tolist() == table.tolist()
    text = samples["text"]
    assert boa_det.compress(bytearray(text)) == boa_det.compress(memoryview(text)) == boa_det.compress(text)


def test_info_and_verify(samples):
    blob = boa_det.compress(samples["text"])
    meta = boa_det.info(blob)
    assert meta["original_size"] == len(samples["text"])
    assert meta["archive_size"] == len(blob)
    assert meta["format_version"] >= 1 and meta["arith_version"] in (1, 2)
    assert len(meta["model_fingerprint"]) == 32
    assert sum(meta["codecs"].values()) == meta["chunks"]
    boa_det.verify(blob)


def test_bad_input_is_a_boa_error(samples):
    blob = boa_det.compress(samples["text"])
    for bad in (blob[:-1], blob[: len(blob) // 2], b"", b"not an archive at all" * 10):
        with pytest.raises(boa_det.BoaError):
            boa_det.decompress(bad)
        with pytest.raises(boa_det.BoaError):
            boa_det.info(bad)
    flipped = bytearray(blob)
    flipped[len(blob) // 3] ^= 0x10
    with pytest.raises(boa_det.BoaError):
        boa_det.decompress(bytes(flipped))
    with pytest.raises(boa_det.BoaError):
        boa_det.verify(bytes(flipped))
    with pytest.raises(boa_det.BoaError, match="max"):
        boa_det.decompress(blob, max_output=10)
    with pytest.raises(boa_det.BoaError):
        boa_det.compress(12345)
    with pytest.raises(boa_det.BoaError):
        boa_det.compress(float_table(100)[:, 1])  # not contiguous
    with pytest.raises(boa_det.BoaError):
        boa_det.compress(b"x", model="/nonexistent/model.safetensors")
    assert issubclass(boa_det.BoaError, ValueError)
