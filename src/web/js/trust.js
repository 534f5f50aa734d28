// What the browser remembers between visits (localStorage): the pinned log key and witness policy per log
// URL, and per log key the last checkpoint it verified. A later checkpoint must be consistent with it; one
// that is not is a fork, recorded with both checkpoints as evidence.
'use strict';
(function (TL) {
  const { fail, fromB64, toB64 } = TL.bytes;
  const PINS = 'tradeledger.pins.v1';
  const SEEN = 'tradeledger.seen.v1';
  const FORKS = 'tradeledger.forks.v1';

  function load(key) {
    try {
      const value = JSON.parse(localStorage.getItem(key));
      return value && typeof value === 'object' ? value : {};
    } catch (_) {
      return {};
    }
  }
  function store(key, value) {
    localStorage.setItem(key, JSON.stringify(value));
  }

  function pinOf(url) {
    return load(PINS)[url] || null;
  }
  function pin(url, vkey, policy) {
    const pins = load(PINS);
    pins[url] = { vkey, policy: policy || null, at: new Date().toISOString() };
    store(PINS, pins);
  }
  function unpin(url) {
    const pins = load(PINS);
    delete pins[url];
    store(PINS, pins);
  }

  /** The pinned trust of `url`, parsed: { log, policy } or null. */
  async function trustOf(url) {
    const p = pinOf(url);
    if (!p) return null;
    const log = await TL.note.parseVkey(p.vkey, 'pinned log key');
    let policy = null;
    if (p.policy) {
      policy = await TL.policy.parsePolicy(p.policy);
      TL.policy.requireLogListed(policy, log);
    }
    return { log, policy, vkey: p.vkey };
  }

  function remember(vkey, checkpoint) {
    const seen = load(SEEN);
    seen[vkey] = { size: checkpoint.size.toString(), root: toB64(checkpoint.root), note: checkpoint.note, at: new Date().toISOString() };
    store(SEEN, seen);
  }

  function recordFork(vkey, last, checkpoint, reason) {
    const forks = load(FORKS);
    (forks[vkey] = forks[vkey] || []).push({ seen: last.note, now: checkpoint.note, reason, at: new Date().toISOString() });
    store(FORKS, forks);
  }

  /**
   * Compares a verified checkpoint with the last one this browser verified for the same key. Returns
   * { status: 'first' | 'same' | 'grew' | 'stale' | 'fork' | 'unverified', reason }. The stored checkpoint
   * advances only after a verified consistency proof.
   */
  async function checkGrowth(log, trust, checkpoint) {
    const last = load(SEEN)[trust.vkey];
    if (!last) {
      remember(trust.vkey, checkpoint);
      return { status: 'first', reason: `first visit: remembered size ${checkpoint.size}` };
    }
    const lastSize = BigInt(last.size);
    const lastRoot = fromB64(last.root, 'stored root');
    const fork = (why) => {
      const reason = `FORK: this log showed this browser size ${lastSize} (seen ${last.at}) and now shows size ${checkpoint.size}; ${why}`;
      recordFork(trust.vkey, last, checkpoint, reason);
      return { status: 'fork', reason };
    };
    if (checkpoint.size === lastSize) {
      if (TL.bytes.equal(checkpoint.root, lastRoot)) return { status: 'same', reason: `no growth since ${last.at} (size ${lastSize})` };
      return fork('both are signed by the log key with different roots for the same size');
    }
    const [older, olderRoot, newer, newerRoot] =
      checkpoint.size > lastSize ? [lastSize, lastRoot, checkpoint.size, checkpoint.root] : [checkpoint.size, checkpoint.root, lastSize, lastRoot];
    if (older === 0n) {
      // Every tree extends the empty one; nothing to prove.
      if (checkpoint.size < lastSize) return { status: 'stale', reason: `this checkpoint is the empty tree; size ${lastSize} was seen before` };
      remember(trust.vkey, checkpoint);
      return { status: 'grew', reason: `grew from 0 to ${newer} entries` };
    }
    let proof;
    try {
      proof = await log.consistencyProof(older, newer);
    } catch (e) {
      return { status: 'unverified', reason: `growth from ${lastSize} to ${checkpoint.size} not verified: ${e.message}` };
    }
    try {
      await TL.merkle.verifyConsistency(older, newer, olderRoot, newerRoot, proof);
    } catch (e) {
      return fork(`the log's consistency proof fails (${e.message})`);
    }
    if (checkpoint.size < lastSize) {
      return { status: 'stale', reason: `this checkpoint (size ${checkpoint.size}) is older than one seen before (size ${lastSize}), and consistent with it` };
    }
    remember(trust.vkey, checkpoint);
    return { status: 'grew', reason: `grew from ${lastSize} to ${checkpoint.size} entries; consistency proof verified` };
  }

  function forks(vkey) {
    return load(FORKS)[vkey] || [];
  }

  TL.trust = { pinOf, pin, unpin, trustOf, checkGrowth, forks, fail };
})((window.TL = window.TL || {}));
