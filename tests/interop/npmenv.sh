#!/bin/sh
# Prints the path of tests/interop/npm once its pinned packages (package-lock.json) are installed.
#
# The tests that check exported credentials with npm libraries nobody here wrote (jose, ajv, @sd-jwt/sd-jwt-vc)
# call this, as scripts/test does, so that they work on a fresh clone: `npm ci` installs exactly the lock file
# into tests/interop/npm/node_modules (gitignored) the first time and again whenever the lock file changes;
# one flock makes it safe for tests running in parallel.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
npm_dir=$here/npm
target=${CARGO_TARGET_DIR:-$here/../../target}
mkdir -p "$target"
exec 9>"$target/interop-npm.lock"
flock 9
if ! cmp -s "$npm_dir/package-lock.json" "$npm_dir/node_modules/.installed-package-lock.json" 2>/dev/null; then
    command -v npm >/dev/null 2>&1 || { echo "error: the interop tests need Node.js 20+ and npm (apt-get install nodejs npm)" >&2; exit 1; }
    npm ci --prefix "$npm_dir" --no-audit --no-fund --loglevel=error >&2
    cp "$npm_dir/package-lock.json" "$npm_dir/node_modules/.installed-package-lock.json"
fi
echo "$npm_dir"
