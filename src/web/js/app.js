// The page's wiring: pinning, checking the log, a certificate's history, dropped or pasted files. Every
// verdict is an element with data-verdict="ok" or "fail" and a readable reason (the test contract).
'use strict';
(function (TL) {
  const $ = (id) => document.getElementById(id);
  const state = { url: '', log: null, trust: null, checkpoint: null, rows: null, entryBytes: null };

  function verdict(el, ok, reason) {
    el.hidden = false;
    el.dataset.verdict = ok ? 'ok' : 'fail';
    el.textContent = '';
    const word = document.createElement('strong');
    word.textContent = ok ? '\u2713 VERIFIED: ' : '\u2717 FAILED: ';
    const why = document.createElement('span');
    why.className = 'reason';
    why.textContent = reason;
    el.append(word, why);
  }

  function reset(...els) {
    for (const el of els) {
      el.hidden = true;
      delete el.dataset.verdict;
      el.textContent = '';
    }
  }

  function reason(e) {
    return e instanceof TL.bytes.VerifyError ? e.message : `unexpected error: ${e && e.message}`;
  }

  // ----- log and trust -----

  async function useLog(url) {
    state.url = url.trim().replace(/\/+$/, '');
    state.log = state.url ? new TL.tiles.Log(state.url) : null;
    state.checkpoint = null;
    state.rows = null;
    $('log-url').value = state.url;
    await loadTrust();
  }

  async function loadTrust() {
    reset($('trust-verdict'));
    state.trust = null;
    const pinned = TL.trust.pinOf(state.url);
    if (!pinned) {
      $('pin-status').textContent = state.url ? `No key pinned for ${state.url}.` : 'Enter a log URL.';
      return;
    }
    try {
      state.trust = await TL.trust.trustOf(state.url);
      const fp = await TL.note.fingerprint(state.trust.log);
      $('pin-status').textContent = `Pinned: ${pinned.vkey} (fingerprint ${fp})${state.trust.policy ? `, witness quorum "${state.trust.policy.quorum}"` : ''}.`;
      $('vkey').value = pinned.vkey;
      $('policy').value = pinned.policy || '';
      showForks();
    } catch (e) {
      verdict($('trust-verdict'), false, `the stored pin is unusable: ${reason(e)}`);
    }
  }

  async function pinKey(vkeyText) {
    reset($('trust-verdict'));
    try {
      if (!state.url) TL.bytes.fail('enter the log URL first');
      const log = await TL.note.parseVkey(vkeyText, 'log key');
      if (log.type !== 0x01) TL.bytes.fail('log key: not an Ed25519 (0x01) key');
      const policyText = $('policy').value.trim();
      if (policyText) TL.policy.requireLogListed(await TL.policy.parsePolicy(policyText), log);
      TL.trust.pin(state.url, log.vkey, policyText || null);
      await loadTrust();
      verdict($('trust-verdict'), true, `pinned ${log.name} for ${state.url}`);
    } catch (e) {
      verdict($('trust-verdict'), false, reason(e));
    }
  }

  async function offerServerKey() {
    reset($('trust-verdict'));
    try {
      if (!state.log) TL.bytes.fail('enter the log URL first');
      const parsed = await TL.note.parseVkey(await state.log.vkey(), "the server's key");
      $('offer-vkey').textContent = parsed.vkey;
      $('offer-fingerprint').textContent = await TL.note.fingerprint(parsed);
      $('offer').hidden = false;
      $('confirm-key').focus();
    } catch (e) {
      verdict($('trust-verdict'), false, reason(e));
    }
  }

  function showForks() {
    const forks = state.trust ? TL.trust.forks(state.trust.vkey) : [];
    const banner = $('fork');
    if (forks.length === 0) {
      reset(banner);
      return;
    }
    verdict(banner, false, forks[forks.length - 1].reason);
  }

  // ----- the log at a glance -----

  async function checkLog() {
    for (const id of ['checkpoint-verdict', 'growth-verdict', 'entries-verdict']) reset($(id));
    $('kinds').hidden = true;
    $('chart').hidden = true;
    $('checkpoint-text').hidden = true;
    state.rows = null;
    if (!state.trust) {
      verdict($('checkpoint-verdict'), false, 'pin the log key first: nothing is verified without it');
      return;
    }
    let checkpoint;
    try {
      checkpoint = await TL.note.verifyCheckpoint(await state.log.checkpoint(), state.trust);
      state.checkpoint = checkpoint;
      const witnessed = checkpoint.witnesses.length ? `, cosigned by ${checkpoint.witnesses.join(', ')}` : '';
      verdict($('checkpoint-verdict'), true, `checkpoint of ${checkpoint.origin}: ${checkpoint.size} entries, signed by the pinned key${witnessed}`);
      $('checkpoint-text').textContent = checkpoint.note;
      $('checkpoint-text').hidden = false;
    } catch (e) {
      verdict($('checkpoint-verdict'), false, reason(e));
      return;
    }
    const growth = await TL.trust.checkGrowth(state.log, state.trust, checkpoint);
    verdict($('growth-verdict'), ['first', 'same', 'grew', 'stale'].includes(growth.status), growth.reason);
    showForks();
    try {
      const { entries, leafHashes } = await state.log.entries(checkpoint.size, (done, n) => {
        $('progress').textContent = `read ${done} of ${n} entries`;
      });
      const root = await TL.merkle.rootOf(leafHashes);
      if (!TL.bytes.equal(root, checkpoint.root)) TL.bytes.fail('the tree recomputed from the served tiles does not have the signed root');
      state.entryBytes = entries;
      state.rows = await TL.logview.replay(entries, state.trust.log);
      const bad = state.rows.filter((r) => !r.ok);
      if (bad.length > 0) {
        verdict($('entries-verdict'), false, `${bad.length} of ${state.rows.length} entries fail; first: entry ${bad[0].index}: ${bad[0].reason}`);
      } else {
        verdict($('entries-verdict'), true, `all ${state.rows.length} entries read from tiles, the tree recomputed to the signed root, every entry's signature verified`);
      }
      showKinds(state.rows);
    } catch (e) {
      verdict($('entries-verdict'), false, reason(e));
    }
  }

  function showKinds(rows) {
    const body = $('kinds').tBodies[0];
    body.textContent = '';
    for (const [kind, n] of Object.entries(TL.logview.byKind(rows))) {
      const tr = body.insertRow();
      tr.insertCell().textContent = kind;
      tr.insertCell().textContent = String(n);
    }
    $('kinds').hidden = false;
    const figure = $('chart');
    figure.querySelector('svg')?.remove();
    figure.prepend(TL.chart.entriesOverTime(rows));
    figure.hidden = false;
  }

  // ----- a certificate's history -----

  function describe(e, cert) {
    const short = (h) => `${TL.bytes.toHex(h).slice(0, 12)}…`;
    switch (e.kind) {
      case 'registration': return `registered by ${e.registrant} for ${e.grants.length} reader(s)`;
      case 'grant': return `grant ${short(e.grant)} added by ${e.signer}`;
      case 'revocation': return `grant ${short(e.grant)} revoked by ${e.signer}`;
      case 'access': {
        const grants = e.releases.filter((r) => r.cert === cert).map((r) => short(r.grant)).join(', ');
        const shared = e.releases.length > 1 ? `, one of ${e.releases.length} releases in this receipt` : '';
        return `opened by the holder of grant ${grants} (receipt by the log${shared})`;
      }
      case 'purge': return e.signer === TL.entry.LOG_SIGNER ? 'purged by the retention sweep' : `purged by ${e.signer}`;
      default: return e.kind;
    }
  }

  async function search() {
    const out = $('history');
    out.textContent = '';
    reset($('history-verdict'));
    const id = $('cert-id').value.trim().toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(id)) {
      verdict($('history-verdict'), false, 'a certificate id is 32 hex digits');
      return;
    }
    if (!state.rows) await checkLog();
    if (!state.rows) {
      verdict($('history-verdict'), false, 'the log did not verify, so no history can be shown');
      return;
    }
    const rows = state.rows.filter((r) => r.entry && TL.entry.isAbout(r.entry, id));
    if (rows.length === 0) {
      verdict($('history-verdict'), false, `no entry for certificate ${id} in the checkpoint of size ${state.checkpoint.size}`);
      return;
    }
    let allOk = true;
    for (const r of rows) {
      const li = document.createElement('li');
      const line = document.createElement('p');
      line.className = 'verdict';
      const label = `${new Date(r.entry.time).toISOString()} entry ${r.index}: ${describe(r.entry, id)}`;
      let ok = r.ok;
      let why = r.reason;
      if (ok) {
        try {
          const proof = await state.log.inclusionProof(r.index, state.checkpoint.size);
          const leaf = await TL.merkle.leafHash(state.entryBytes[r.index]);
          await TL.merkle.verifyInclusion(BigInt(r.index), state.checkpoint.size, leaf, proof, state.checkpoint.root);
          why = `${why}; inclusion proof verified`;
        } catch (e) {
          ok = false;
          why = reason(e);
        }
      }
      allOk = allOk && ok;
      verdict(line, ok, `${label} (${why})`);
      line.dataset.kind = r.entry.kind;
      li.append(line);
      out.append(li);
    }
    verdict($('history-verdict'), allOk, `${rows.length} entries for ${id}${allOk ? ', each signature and inclusion verified' : ''}`);
  }

  // ----- files -----

  async function verifyText(text) {
    const el = $('file-verdict');
    const facts = $('facts');
    reset(el);
    facts.textContent = '';
    try {
      if (!state.trust) TL.bytes.fail('pin the log key first: nothing is verified without it');
      const format = TL.formats.recognize(text);
      if (!format) TL.bytes.fail('not a disclosure bundle, a receipt (C2SP tlog-proof), a VC-JOSE credential or an SD-JWT presentation');
      const result = await format.verify(text, state.trust);
      verdict(el, true, result.summary);
      for (const [k, v] of result.facts) {
        const dt = document.createElement('dt');
        dt.textContent = k;
        const dd = document.createElement('dd');
        dd.textContent = v;
        facts.append(dt, dd);
      }
    } catch (e) {
      verdict(el, false, reason(e));
    }
  }

  async function verifyFile(file) {
    // Clear the last verdict before the first await: reading the file takes a moment, and until then the
    // previous file's verdict must not stand for this one (the tests wait for the next data-verdict).
    reset($('file-verdict'));
    $('facts').textContent = '';
    if (file.size > 4 << 20) {
      verdict($('file-verdict'), false, 'the file is larger than 4 MiB');
      return;
    }
    const bytes = new Uint8Array(await file.arrayBuffer());
    try {
      await verifyText(TL.bytes.fromUtf8(bytes, file.name));
    } catch (e) {
      verdict($('file-verdict'), false, reason(e));
    }
  }

  // ----- start -----

  function start() {
    $('use-log').addEventListener('click', () => useLog($('log-url').value));
    $('log-url').addEventListener('keydown', (ev) => ev.key === 'Enter' && useLog($('log-url').value));
    $('pin-pasted').addEventListener('click', () => pinKey($('vkey').value));
    $('fetch-key').addEventListener('click', offerServerKey);
    $('confirm-key').addEventListener('click', async () => {
      $('offer').hidden = true;
      await pinKey($('offer-vkey').textContent);
    });
    $('reject-key').addEventListener('click', () => {
      $('offer').hidden = true;
    });
    $('unpin').addEventListener('click', async () => {
      TL.trust.unpin(state.url);
      await loadTrust();
    });
    $('check-log').addEventListener('click', checkLog);
    $('search').addEventListener('click', search);
    $('cert-id').addEventListener('keydown', (ev) => ev.key === 'Enter' && search());
    $('file').addEventListener('change', (ev) => ev.target.files[0] && verifyFile(ev.target.files[0]));
    $('verify-paste').addEventListener('click', () => verifyText($('paste').value));
    const drop = $('drop');
    // The drop zone is focusable; from the keyboard it opens the same file chooser.
    drop.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        $('file').click();
      }
    });
    drop.addEventListener('dragover', (ev) => {
      ev.preventDefault();
      drop.classList.add('over');
    });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (ev) => {
      ev.preventDefault();
      drop.classList.remove('over');
      const file = ev.dataTransfer.files[0];
      if (file) verifyFile(file);
    });
    const params = new URLSearchParams(location.search);
    const initial = params.get('log') || (location.protocol.startsWith('http') ? location.origin : '');
    useLog(initial).then(() => {
      document.body.dataset.ready = 'true';
      if (state.trust && params.get('check') !== 'no') checkLog();
    });
  }

  TL.app = { state, verifyText };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})((window.TL = window.TL || {}));
