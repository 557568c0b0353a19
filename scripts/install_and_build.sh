#!/usr/bin/env bash
# README command 1: install the pinned packages, fetch MathJax and the widget JavaScript from the
# npm registry, and build the book from clean into _build/html (landing page: _build/html/index.html).
#
#   python3 -m venv .venv && . .venv/bin/activate      # once
#   bash scripts/install_and_build.sh                   # install + build (about 1-2 minutes)
#   bash scripts/install_and_build.sh --no-install      # rebuild only
#   bash scripts/install_and_build.sh --cached          # rebuild, reusing executed notebooks
#
# The build is `jupyter-book build . -W -n --keep-going`: any warning or failing notebook cell
# fails it. It starts from clean (`jupyter-book clean --all .`) unless --cached is given, because
# the execution cache is keyed on the notebooks' code cells and not on r3d_teach.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

install=1; fresh=1
for arg in "$@"; do
  case "$arg" in
    --no-install) install=0 ;;
    --cached) fresh=0; install=0 ;;
    *) echo "usage: $0 [--no-install] [--cached]" >&2; exit 2 ;;
  esac
done

PY="${PYTHON:-python}"
if [[ -z "${VIRTUAL_ENV:-}" ]]; then
  echo "install_and_build: note: no virtual environment is active; using $(command -v "$PY")" >&2
fi
t0=$SECONDS

if (( install )); then
  echo "== pip install -r requirements.txt"
  "$PY" -m pip install --disable-pip-version-check --progress-bar off -q -r requirements.txt
  echo "   done in $((SECONDS - t0)) s"
fi

echo "== fetch MathJax and widget JavaScript into book/_vendor (npm registry)"
if ! bash scripts/vendor_js.sh; then
  if [[ "${CI:-}" == "true" ]]; then
    echo "install_and_build: vendoring the JavaScript failed (required under CI)" >&2
    exit 1
  fi
  echo "install_and_build: WARNING: could not vendor the JavaScript; the site will load MathJax" >&2
  echo "install_and_build: and the widget JavaScript from CDNs (math needs a network to show)." >&2
fi

# the jupyter-book script that belongs to $PY (the same virtual environment)
JB="$("$PY" -c 'import os, sys; print(os.path.join(os.path.dirname(sys.executable), "jupyter-book"))')"
[[ -x "$JB" ]] || JB=jupyter-book
if (( fresh )); then
  "$JB" clean --all . >/dev/null
fi

echo "== jupyter-book build . -W -n --keep-going"
t1=$SECONDS
if ! "$JB" build . -W -n --keep-going; then
  for log in _build/html/reports/*.log; do
    [[ -f "$log" ]] || continue
    echo "---- $log (last 60 lines)" >&2
    tail -n 60 "$log" >&2
  done
  echo "install_and_build: the book build FAILED (see above)" >&2
  exit 1
fi
echo "== book built in $((SECONDS - t1)) s (total $((SECONDS - t0)) s): _build/html/index.html"
