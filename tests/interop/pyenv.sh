#!/bin/sh
# Prints the path of a Python interpreter that has tests/interop/requirements.txt installed.
#
# The tests that run software nobody here wrote (pyhpke, schemathesis) call this, so that the README's one test
# command works on a fresh clone: it makes a virtual environment under target/ the first time, reinstalls when
# the pinned requirements change, and is safe to call from tests running in parallel (one flock).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
target=${CARGO_TARGET_DIR:-$here/../../target}
mkdir -p "$target"
venv=$target/interop-venv
requirements=$here/requirements.txt
exec 9>"$target/interop-venv.lock"
flock 9
if ! cmp -s "$requirements" "$venv/installed-requirements.txt" 2>/dev/null; then
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
    cp "$requirements" "$venv/installed-requirements.txt"
fi
echo "$venv/bin/python"
