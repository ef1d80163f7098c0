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


@pytest.mark.parametrize("level", [1, 2, 3, 4, 5, 7, 9])
def test_levels_write_the_clis_bytes(samples, level, tmp_path):
    data = samples["text"]
    path = tmp_path / "text"
    path.write_bytes(data)
    ours = boa_det.compress(data, level=level)
    assert ours == cli("-q", f"-{level}", "-c", str(path))
    assert boa_det.decompress(ours) == data
    dst = tmp_path / "text.boa"
    boa_det.compress_file(path, dst, level=level)
    assert dst.read_bytes() == ours


@pytest.mark.parametrize("level", [0, 10, 11, 300, "1", True])
def test_undefined_levels_are_a_boa_error(level):
    with pytest.raises(boa_det.BoaError):
        boa_det.compress(b"x" * 100, level=level)


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
    with pytest.raises(boa_det.BoaError, match="level"):
        boa_det.compress(b"x", level=10)
    assert boa_det.compress(b"x", level=None) == boa_det.compress(b"x")
    assert issubclass(boa_det.BoaError, ValueError)


def test_concatenated_archives_read_whole(samples):
    a, b = boa_det.compress(samples["text"]), boa_det.compress(samples["table"])
    both = a + b
    assert boa_det.decompress(both) == samples["text"] + samples["table"]
    boa_det.verify(both)
    assert [m["original_size"] for m in boa_det.info_members(both)] == [len(samples["text"]), len(samples["table"])]
    with pytest.raises(boa_det.BoaError, match="back to back"):
        boa_det.info(both)
    with pytest.raises(boa_det.BoaError, match="max_output"):
        boa_det.decompress(both, max_output=len(samples["text"]) + 1)


def test_files_are_written_atomically(samples, tmp_path):
    src = tmp_path / "events.txt"
    src.write_bytes(samples["text"])
    dst = tmp_path / "events.txt.boa"
    assert boa_det.compress_file(src, dst) == len(samples["text"])
    assert dst.read_bytes() == boa_det.compress(samples["text"])
    back = tmp_path / "events.back"
    assert boa_det.decompress_file(dst, back) == len(samples["text"])
    assert back.read_bytes() == samples["text"]
    # No overwrite without asking; the output is never the input.
    with pytest.raises(boa_det.BoaError, match="already exists"):
        boa_det.compress_file(src, dst)
    with pytest.raises(boa_det.BoaError, match="is the input"):
        boa_det.compress_file(src, src, overwrite=True)
    assert src.read_bytes() == samples["text"]
    # A corrupt archive leaves no output and keeps an existing one whole.
    bad = tmp_path / "bad.boa"
    bad.write_bytes(dst.read_bytes()[:-3])
    with pytest.raises(boa_det.BoaError):
        boa_det.decompress_file(bad, tmp_path / "new.out")
    with pytest.raises(boa_det.BoaError):
        boa_det.decompress_file(bad, back, overwrite=True)
    assert not (tmp_path / "new.out").exists()
    assert back.read_bytes() == samples["text"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.boa", "events.back", "events.txt", "events.txt.boa"]


def test_numpy_arrays_keep_dtype_and_shape():
    from boa_det import numpy as bnp

    for arr in (float_table(3000), np.asfortranarray(float_table(100)), np.arange(12, dtype=">i8").reshape(3, 4)):
        back = bnp.decompress_array(bnp.compress_array(arr))
        assert back.dtype == arr.dtype and back.shape == arr.shape
        assert back.flags.f_contiguous == arr.flags.f_contiguous
        assert (back == arr).all()
    with pytest.raises(boa_det.BoaError):
        bnp.compress_array(np.array([{}, []], dtype=object))
    with pytest.raises(boa_det.BoaError, match="npy"):
        bnp.decompress_array(boa_det.compress(b"not an npy file"))


def test_numcodecs_codec():
    import numcodecs

    import boa_det.numcodecs  # noqa: F401  (registers the codec)

    codec = numcodecs.get_codec({"id": "boa_det"})
    table = float_table(2000)
    enc = codec.encode(table)
    assert enc == boa_det.compress(table)
    out = np.empty_like(table)
    codec.decode(enc, out=out)
    assert (out == table).all()
    assert np.frombuffer(codec.decode(enc), dtype=np.float32).tolist() == table.ravel().tolist()
    assert numcodecs.get_codec(codec.get_config()).get_config() == codec.get_config()


def test_decompress_into_a_callers_buffer(samples):
    table = float_table(4000)
    blob = boa_det.compress(table)
    out = np.empty_like(table)
    assert boa_det.decompress_into(blob, out) == table.nbytes
    assert out.tobytes() == table.tobytes()
    big = bytearray(table.nbytes + 10)
    assert boa_det.decompress_into(blob, big) == table.nbytes
    assert bytes(big[: table.nbytes]) == table.tobytes() and big[table.nbytes :] == bytearray(10)
    with pytest.raises(boa_det.BoaError, match="max_output"):
        boa_det.decompress_into(blob, bytearray(table.nbytes - 1))
    with pytest.raises(boa_det.BoaError, match="writable"):
        boa_det.decompress_into(blob, bytes(table.nbytes))
