#!/usr/bin/env bash
# Builds the boa_det wheel (maturin, abi3, with the HDF5 filter plugin inside:
# build.rs) into python/dist, installs it into a
# cached venv with the pinned test requirements, and runs the Python tests
# against the CLI at BOA_DET_BIN (default: target/release/boa-det, built first).
#   BOA_PY_VENV  venv location (default: <repo>/.venv-python)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
venv=${BOA_PY_VENV:-$repo/.venv-python}
req=$here/requirements-test.txt
hash=$(sha256sum "$req" | cut -d' ' -f1)
stamp=$venv/.requirements.sha256
if ! { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ] && [ -x "$venv/bin/python" ]; }; then
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    echo "$hash" > "$stamp"
fi
bin=${BOA_DET_BIN:-$repo/target/release/boa-det}
[ -x "$bin" ] || (cd "$repo" && cargo build -q --release)
rm -rf "$here/dist"
# build.rs builds the HDF5 filter plugin into the package (boa_det/plugins/).
(cd "$here" && CARGO_TARGET_DIR="$repo/target/python" "$venv/bin/maturin" build --release --quiet -o dist)
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$here"/dist/*.whl
(cd "$here" && BOA_DET_BIN="$bin" "$venv/bin/python" -m pytest -q tests)
