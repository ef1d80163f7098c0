"""tools/mix_probe.py on a synthetic case with a known answer: lines whose fields
repeat the line above are nearly free under the field-above histogram, while the
dump says every byte cost 8 bits; and the dump's length must match the input."""

import pathlib
import subprocess
import sys

import numpy as np

TOOL = pathlib.Path(__file__).resolve().parents[1] / "tools" / "mix_probe.py"


def _run(tmp_path, data: bytes, freqs: np.ndarray, *args):
    (tmp_path / "in.txt").write_bytes(data)
    freqs.astype("<u4").tofile(tmp_path / "in.dump")
    return subprocess.run(
        [sys.executable, str(TOOL), str(tmp_path / "in.txt"), str(tmp_path / "in.dump"), *args],
        capture_output=True, text=True)


def test_field_above_learns_repeated_fields(tmp_path):
    data = b"".join(b"P %d 211 1.3957e-01 0\n" % (i % 7) for i in range(400))
    uniform = np.full((len(data), 2), 1 << 16)  # 2^16 / 2^24: 8 bits per byte
    r = _run(tmp_path, data, uniform, "--chunk-size", "4096")
    assert r.returncode == 0, r.stderr
    lines = dict(l.split(": ", 1) for l in r.stdout.strip().splitlines())
    assert float(lines["coded"].split()[0]) == len(data)
    mixed = float(lines["field-above"].split("mixed ")[1].split()[0])
    assert mixed < 0.4 * len(data)


def test_dump_of_another_length_is_refused(tmp_path):
    r = _run(tmp_path, b"abc\n", np.full((3, 2), 1 << 16), "--chunk-size", "4096")
    assert r.returncode != 0 and "holds 3 bytes" in r.stderr
