// Reading a log over HTTP: the checkpoint, C2SP tlog-tiles entry bundles and level-0 hash tiles, and the
// JSON proof endpoints (docs/api.md). Nothing fetched here is trusted until a caller verifies it.
'use strict';
(function (TL) {
  const { fail, fromB64, equal } = TL.bytes;
  const WIDTH = 256;
  const PARALLEL = 6;
  /** The most entries the page replays in one go; a larger log is checked by checkpoint and proofs only. */
  const MAX_SCAN = 1 << 18;

  /** C2SP tlog-tiles index encoding: 3-digit groups, all but the last prefixed with "x" (x001/x234/067). */
  function tileIndex(n) {
    let digits = n.toString();
    digits = digits.padStart(Math.ceil(digits.length / 3) * 3, '0');
    const groups = digits.match(/.{3}/g);
    return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
  }

  class Log {
    constructor(url) {
      this.url = url.replace(/\/+$/, '');
    }
    async get(path, as) {
      let answer;
      try {
        answer = await fetch(`${this.url}/${path}`, { cache: 'no-store', credentials: 'omit' });
      } catch (e) {
        fail(`could not reach ${this.url}/${path}: ${e.message}`);
      }
      if (!answer.ok) fail(`${this.url}/${path} answered ${answer.status}`);
      if (as === 'json') return answer.json();
      return new Uint8Array(await answer.arrayBuffer());
    }
    // Notes must be valid UTF-8 (C2SP signed-note); fetch's text() would hide bad bytes behind U+FFFD.
    async checkpoint() {
      return TL.bytes.fromUtf8(await this.get('checkpoint'), 'checkpoint');
    }
    async vkey() {
      return TL.bytes.fromUtf8(await this.get('log.vkey'), 'log key');
    }
    async inclusionProof(index, size) {
      const p = await this.get(`v1/proof/inclusion?index=${index}&size=${size}`, 'json');
      return (p.proof || []).map((h, i) => fromB64(h, `inclusion proof hash ${i}`));
    }
    async consistencyProof(old, size) {
      const p = await this.get(`v1/proof/consistency?old=${old}&new=${size}`, 'json');
      return (p.proof || []).map((h, i) => fromB64(h, `consistency proof hash ${i}`));
    }

    /**
     * Every entry of the tree of `size`, from entry bundles, each checked against the level-0 hash tile.
     * Returns { entries: [Uint8Array], leafHashes: [Uint8Array] }. The caller compares the tree hash of
     * `leafHashes` with the signed root.
     */
    async entries(size, onProgress = () => {}) {
      if (size > BigInt(MAX_SCAN)) fail(`the log has ${size} entries; the page replays at most ${MAX_SCAN}`);
      const n = Number(size);
      const tiles = [];
      for (let t = 0; t * WIDTH < n; t++) tiles.push({ t, width: Math.min(WIDTH, n - t * WIDTH) });
      const entries = new Array(n);
      const leafHashes = new Array(n);
      let done = 0;
      const work = async ({ t, width }) => {
        const suffix = width < WIDTH ? `.p/${width}` : '';
        const [bundle, hashes] = await Promise.all([
          this.get(`tile/entries/${tileIndex(t)}${suffix}`),
          this.get(`tile/0/${tileIndex(t)}${suffix}`),
        ]);
        const items = parseBundle(bundle, width, t);
        if (hashes.length !== width * 32) fail(`hash tile 0/${t}: ${hashes.length} bytes, not ${width * 32}`);
        for (let i = 0; i < width; i++) {
          const leaf = await TL.merkle.leafHash(items[i]);
          if (!equal(leaf, hashes.subarray(i * 32, i * 32 + 32))) {
            fail(`entry ${t * WIDTH + i}: the served hash tile disagrees with the served entry`);
          }
          entries[t * WIDTH + i] = items[i];
          leafHashes[t * WIDTH + i] = leaf;
        }
        onProgress((done += width), n);
      };
      const queue = tiles.slice();
      await Promise.all(Array.from({ length: PARALLEL }, async () => {
        while (queue.length > 0) await work(queue.shift());
      }));
      return { entries, leafHashes };
    }
  }

  /** A tlog-tiles entry bundle: `width` entries, each a big-endian u16 length and that many bytes. */
  function parseBundle(bytes, width, t) {
    const out = [];
    let at = 0;
    while (at < bytes.length) {
      if (at + 2 > bytes.length) fail(`entry bundle ${t}: truncated length`);
      const len = (bytes[at] << 8) | bytes[at + 1];
      if (at + 2 + len > bytes.length) fail(`entry bundle ${t}: truncated entry`);
      out.push(bytes.slice(at + 2, at + 2 + len));
      at += 2 + len;
    }
    if (out.length !== width) fail(`entry bundle ${t}: ${out.length} entries, not ${width}`);
    return out;
  }

  TL.tiles = { Log, tileIndex, parseBundle, MAX_SCAN };
})((window.TL = window.TL || {}));
