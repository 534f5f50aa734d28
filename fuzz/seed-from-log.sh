#!/usr/bin/env bash
# Seeds the fuzz corpora that need a real log (docs/fuzzing.md): runs a throwaway service on 127.0.0.1, tells a
# short story with the CLI, and saves what a client receives: entries and entry bundles, the checkpoint, a
# disclosure bundle and its disclosure, a receipt before and after a refresh, a public key file.
# Usage (from the repository root, after `cargo build --locked`): fuzz/seed-from-log.sh [path/to/tradeledger]
set -euo pipefail
bin=$(realpath "${1:-target/debug/tradeledger}")
corpus=$(realpath "$(dirname "$0")")/corpus
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
export TRADELEDGER_HOME=$work/home

"$bin" keygen --party operator --role operator --out op.key >/dev/null
"$bin" keygen --party importer-1 --role importer --out imp.key >/dev/null
"$bin" keygen --party cbp --role customs --out cbp.key >/dev/null
"$bin" serve --data data --listen 127.0.0.1:0 --operator op.key.pub >serve.log 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q 'listening on' serve.log && break; sleep 0.1; done
export TRADELEDGER_SERVER=$(grep -o 'http://[0-9.:]*' serve.log | head -1)
export TRADELEDGER_LOG_KEY=$work/data/log.vkey
vkey=$(cat data/log.vkey)

"$bin" enroll --key op.key imp.key.pub >/dev/null
"$bin" enroll --key op.key cbp.key.pub >/dev/null
cert=$("$bin" register --key imp.key --to cbp --json "$OLDPWD/docs/examples/usmca.json" |
    sed -n 's/.*"cert_id": *"\([0-9a-f]*\)".*/\1/p')
"$bin" disclose --key imp.key "$cert" --fields /exporter,/goods/0 --out bundle.json >/dev/null
"$bin" receipt --key imp.key "$cert" --out receipt.tlog-proof >/dev/null
"$bin" open --key cbp.key "$cert" >/dev/null
"$bin" receipt --key imp.key --refresh receipt.tlog-proof --out refreshed.tlog-proof >/dev/null

save() { mkdir -p "$corpus/$1"; cat >"$corpus/$1/seed-log-$2"; }
curl -sf "$TRADELEDGER_SERVER/checkpoint" >checkpoint
{ echo "$vkey"; cat checkpoint; } | save note checkpoint
{ echo "$vkey"; cat bundle.json; } | save bundle disclose
python3 -c 'import json,sys; print(json.dumps(json.load(open("bundle.json"))["disclosure"]))' |
    save disclosure disclose
for f in receipt refreshed; do { echo "$vkey"; cat $f.tlog-proof; } | save receipt $f; done
{ echo "$vkey"; cat receipt.tlog-proof; } | save tlog_proof receipt
save sealed pub <imp.key.pub
size=$(sed -n 2p checkpoint)
curl -sf "$TRADELEDGER_SERVER/tile/entries/000.p/$size" >bundle
save entry bundle <bundle
python3 - "$corpus/entry" bundle <<'PY'
import sys
out, data, i = sys.argv[1], open(sys.argv[2], "rb").read(), 0
while data:
    n = int.from_bytes(data[:2], "big"); open(f"{out}/seed-log-entry-{i}", "wb").write(data[2:2 + n])
    data, i = data[2 + n:], i + 1
PY
echo "seeded from a log of $size entries under $corpus"
