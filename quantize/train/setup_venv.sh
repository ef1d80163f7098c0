#!/usr/bin/env bash
# Create (if missing) the cached virtual environment for boatrain and install
# the pinned requirements. Idempotent: quiet when the stamp file matches.
#   BOA_VENV   venv location (default: <repo>/.venv-train)
#   PYTHON     interpreter used to create it (default: python3)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
venv=${BOA_VENV:-$repo/.venv-train}
py=${PYTHON:-python3}
req=$here/requirements.txt
hash=$(sha256sum "$req" | cut -d' ' -f1)
stamp=$venv/.boatrain-requirements.sha256
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ] && [ -x "$venv/bin/python" ]; then
  exit 0
fi
echo "setup_venv: installing $req into $venv" >&2
if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
echo "$hash" > "$stamp"
echo "setup_venv: ready ($venv)" >&2
