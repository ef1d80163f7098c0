#!/usr/bin/env bash
# CI check of the release script (issue 30), cheap enough for every run: the
# x86_64 musl binary only (no cross compiler, no qemu), built twice from two
# copies of the source to prove it reproducible, then its outputs checked.
# About 6 to 7 minutes on a 2-core machine, most of it the two clean builds.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=target/release-check
t=x86_64-unknown-linux-musl

.ci/release --target "$t" --out "$out" --check-reproducible

# The sums verify, and the manifest agrees with them and with the sources.
(cd "$out" && sha256sum --quiet -c SHA256SUMS)
python3 - "$out" "$t" <<'PY'
import hashlib, json, pathlib, re, sys
out, t = pathlib.Path(sys.argv[1]), sys.argv[2]
m = json.loads((out / "manifest.json").read_text())
version = re.search(r'^version = "(.+)"', pathlib.Path("Cargo.toml").read_text(), re.M)[1]
assert m["version"] == version, (m["version"], version)
assert m["reproducibility_check"] == {t: True}, m["reproducibility_check"]
[b] = m["binaries"]
assert b["target"] == t and b["file"] == f"boa-det-{version}-{t}", b
assert b["sha256"] == hashlib.sha256((out / b["file"]).read_bytes()).hexdigest()
assert "static" in b["file_type"] and "stripped" in b["file_type"], b["file_type"]
sums = dict(l.split()[::-1] for l in (out / "SHA256SUMS").read_text().splitlines())
assert sums == {b["file"]: b["sha256"]}, sums
d = m["default_model"]
assert [x for x in m["builtin_models"] if x["default"]] == [dict(d, default=True)], d
assert m["format_versions"]["written_up_to"] == max(m["format_versions"]["read"])
print(f"release check: {b['file']} {b['sha256']} reproducible; "
      f"{len(m['builtin_models'])} built-in models, default {d['name']} {d['fingerprint']}")
PY
