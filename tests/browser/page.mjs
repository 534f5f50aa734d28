// Drives the auditor's page (src/web/) in Debian's headless Chromium: tests/e2e/browser.rs starts two real
// `tradeledger serve` processes sharing one log key, makes a real bundle and receipt, and runs this with a
// JSON config path. Every check reads the page's data-verdict elements; a failed check exits non-zero.
// Screenshots of each state go to config.shots.
import { chromium } from 'playwright-core';
import { mkdtempSync, readFileSync, readdirSync, statSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import assert from 'node:assert/strict';
import { credentials } from './credentials.mjs';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const profile = mkdtempSync(join(tmpdir(), 'tradeledger-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1100, height: 1400 },
});
const problems = [];
const step = (name) => console.log(`page.mjs: ${name}`);

try {
  if (config.mode === 'witnessed') await witnessed();
  else if (config.mode === 'credentials') await credentials(context, config, verdict, problems);
  else await story();
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
assert.deepEqual(problems, []);
console.log('page.mjs: all checks passed');

/** The story: vectors, pinning, the log, a history, bundles, receipts, quorums, a fork. */
async function story() {
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && problems.push(`console error: ${m.text()}`));
  // Registered now, not when needed: Playwright turns on file-chooser interception when the first
  // listener is added, and a key press racing that under load would open a real (invisible) dialog.
  const choosers = [];
  page.on('filechooser', (c) => choosers.push(c));

  // ----- The published vectors, run by the page's own code (served by the binary). -----
  step('vectors');
  await page.goto(`${config.urlA}/?check=no`);
  await page.waitForSelector('body[data-ready=true]');
  const vectors = files(config.vectors, '.json').map((path) => ({
    name: path.slice(config.vectors.length + 1),
    // Indexes up to 2^64-1 do not survive JSON.parse as numbers: keep them as strings.
    text: readFileSync(path, 'utf8').replace(/("(?:leafIdx|treeSize|size1|size2)"\s*:\s*)(\d+)/g, '$1"$2"'),
  }));
  const result = await page.evaluate(runVectors, vectors);
  console.log(`page.mjs: vectors: ${result.passed} passed, failures: ${JSON.stringify(result.failed)}`);
  assert.deepEqual(result.failed, []);
  assert.equal(result.passed, config.expectVectors);

  // ----- Trust on first use, with the fingerprint shown and confirmed. -----
  step('pin the served key after confirming its fingerprint');
  await page.goto(`${config.urlA}/`);
  await page.waitForSelector('body[data-ready=true]');
  await page.click('#fetch-key');
  await page.waitForSelector('#offer:not([hidden])');
  assert.equal((await page.textContent('#offer-vkey')).trim(), config.vkey);
  assert.match(await page.textContent('#offer-fingerprint'), /^[0-9a-f]{4}( [0-9a-f]{4}){15}$/);
  await page.click('#confirm-key');
  await verdict(page, '#trust-verdict', 'ok', /pinned/);

  step('the log at a glance');
  await page.click('#check-log');
  await verdict(page, '#checkpoint-verdict', 'ok', /signed by the pinned key/);
  await verdict(page, '#growth-verdict', 'ok', /first visit/);
  await verdict(page, '#entries-verdict', 'ok', /every entry's signature verified/);
  assert.ok(await page.isVisible('#chart svg path[data-kind=registration]'));
  await page.screenshot({ path: join(config.shots, 'log.png'), fullPage: true });

  step('a certificate history, from the keyboard');
  await page.focus('#cert-id');
  await page.keyboard.type(config.certId);
  await page.keyboard.press('Enter');
  await verdict(page, '#history-verdict', 'ok', /each signature and inclusion verified/);
  const kinds = await page.$$eval('#history [data-verdict=ok]', (els) => els.map((e) => e.dataset.kind));
  assert.ok(kinds.includes('registration') && kinds.includes('access'), `history kinds ${kinds}`);
  // Concurrent opens shared a receipt (kind 9): checked release by release, shown as one of several.
  assert.match(await page.textContent('#history'), /one of \d+ releases in this receipt/);
  await page.screenshot({ path: join(config.shots, 'history.png'), fullPage: true });
  await page.fill('#cert-id', config.purgedId);
  await page.click('#search');
  await verdict(page, '#history-verdict', 'ok', /each signature and inclusion verified/);
  const purged = await page.$$eval('#history [data-verdict=ok]', (els) => els.map((e) => e.dataset.kind));
  assert.deepEqual(purged, ['registration', 'access', 'purge']);
  assert.match(await page.textContent('#history'), /purged by acme-imports/);

  step('a real bundle verifies (chosen from the keyboard through the drop zone)');
  await page.focus('#drop');
  await page.keyboard.press('Enter');
  for (let waited = 0; choosers.length === 0; waited += 50) {
    assert.ok(waited < 30000, 'Enter on the drop zone opened no file chooser');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await choosers.shift().setFiles(config.bundle);
  await verdict(page, '#file-verdict', 'ok', /disclosure/);
  for (const pointer of config.pointers) assert.ok((await page.textContent('#facts')).includes(pointer), pointer);
  await page.screenshot({ path: join(config.shots, 'bundle.png'), fullPage: true });

  step('every leaf encoding, as the Rust side committed it');
  await page.setInputFiles('#file', config.tricky);
  await verdict(page, '#file-verdict', 'ok', /disclosure/);
  const facts = await page.$$eval('#facts dt', (dts) => dts.map((dt) => [dt.textContent, dt.nextElementSibling.textContent]));
  const want = {
    '/n/int': '1', '/n/float': '1.0', '/n/exp': '1000.0', '/n/negzero': '-0.0', '/n/u64max': '18446744073709551615',
    '/n/i64min': '-9223372036854775808', '/shape/obj': '{}', '/shape/arr': '[]', '/shape/null': 'null',
    '/a~0b~1c': '"tilde and slash"', '/s/empty': '""',
  };
  for (const [pointer, shown] of Object.entries(want)) {
    assert.ok(facts.some(([k, v]) => k === pointer && v === shown), `${pointer} = ${shown} in ${JSON.stringify(facts)}`);
  }
  assert.equal(facts.filter(([k]) => k.startsWith('/')).length, 17);

  step('a bundle with one changed byte fails with its reason');
  const bundle = readFileSync(config.bundle);
  const receipt = readFileSync(config.receipt, 'utf8');
  const value = /"value":\s*"/.exec(bundle.toString('latin1'));
  const at = value.index + value[0].length + 1;
  const tampered = Buffer.from(bundle);
  tampered[at] = tampered[at] === 0x41 ? 0x42 : 0x41;
  await page.setInputFiles('#file', { name: 'tampered.json', mimeType: 'application/json', buffer: tampered });
  await verdict(page, '#file-verdict', 'fail', /does not match the registered commitment/);
  await page.screenshot({ path: join(config.shots, 'bundle-tampered.png'), fullPage: true });

  step('malformed input is refused with a reason, never an unexpected error');
  const text = bundle.toString('utf8');
  const malformed = ['', 'garbage', '{', '[[[[[[[[', `${'['.repeat(5000)}${']'.repeat(5000)}`, text.slice(0, text.length / 2),
    text.replace('"format"', '"format": 1, "x"'), text.replace('{', '{"format": "x", '),
    text.replace(/"proof": \[\s*"[0-9a-f]/, '"proof": ["zz'), receipt.split('\n').slice(0, 3).join('\n'),
    receipt.replace(/^index \d+$/m, 'index 18446744073709551616'), receipt.replace(/^index \d+$/m, 'index 007'),
    receipt.replace('\n\n', '\n\n\n'), 'eyJhbGciOiJFUzI1NiJ9.eyJ2YyI6e319.c2ln', 'eyJhbGciOiJFZERTQSJ9.e30.~', 'a.b.c~~'];
  // And one changed byte at 60 spread positions of the bundle: refused or (tree_size is only a hint,
  // docs/formats.md) accepted, but always with a verdict and never an unexpected error.
  for (let i = 1; i <= 60; i++) {
    const at = Math.floor((i * bundle.length) / 61);
    const b = Buffer.from(bundle);
    b[at] = b[at] === 0x30 ? 0x31 : 0x30;
    malformed.push(b.toString('latin1'));
  }
  for (const input of malformed) {
    await page.fill('#paste', input);
    await page.click('#verify-paste');
    const el = await page.waitForSelector('#file-verdict[data-verdict]');
    const said = await el.textContent();
    assert.doesNotMatch(said, /unexpected error/, `input ${JSON.stringify(input.slice(0, 80))}: ${said}`);
    if (malformed.indexOf(input) < 16) assert.equal(await el.getAttribute('data-verdict'), 'fail', said);
  }

  step('a real receipt verifies, a changed one does not');
  await page.setInputFiles('#file', config.receipt);
  await verdict(page, '#file-verdict', 'ok', /receipt: the registration entry is at index/);
  await page.screenshot({ path: join(config.shots, 'receipt.png'), fullPage: true });
  const extra = receipt.split('\n')[1];
  const flipped = extra.slice(0, 20) + (extra[20] === 'A' ? 'B' : 'A') + extra.slice(21);
  await page.fill('#paste', receipt.replace(extra, flipped));
  await page.click('#verify-paste');
  await verdict(page, '#file-verdict', 'fail', /not at index/);

  // ----- A witness policy: cosignatures made here with node's Ed25519 (C2SP tlog-cosignature v1). -----
  step('witness quorum');
  const w1 = witness('w1.example');
  const w2 = witness('w2.example');
  const cosigned = cosign(receipt, w1);
  const pinPolicy = async (quorum) => {
    await page.fill('#vkey', config.vkey);
    await page.fill('#policy', `log ${config.vkey}\nwitness w1 ${w1.vkey}\nwitness w2 ${w2.vkey}\n${quorum}\n`);
    await page.click('#pin-pasted');
    await verdict(page, '#trust-verdict', 'ok', /pinned/);
  };
  const verifyReceipt = async (text) => {
    await page.fill('#paste', text);
    await page.click('#verify-paste');
  };
  await pinPolicy('quorum w1');
  await verifyReceipt(cosigned);
  await verdict(page, '#file-verdict', 'ok', /receipt/);
  assert.match(await page.textContent('#facts'), /cosigned by w1\.example/);
  await verifyReceipt(receipt);
  await verdict(page, '#file-verdict', 'fail', /quorum "w1" is not met/);
  await verifyReceipt(cosign(receipt, w1, 1));
  await verdict(page, '#file-verdict', 'fail', /cosignature by w1\.example does not verify/);
  await pinPolicy('group both all w1 w2\nquorum both');
  await verifyReceipt(cosigned);
  await verdict(page, '#file-verdict', 'fail', /quorum "both" is not met \(valid cosignatures: w1\)/);
  await verifyReceipt(cosign(cosigned, w2));
  await verdict(page, '#file-verdict', 'ok', /receipt/);

  // ----- Opened from a file, against two servers that share the log key: a fork between visits. -----
  step('fork between two visits (page opened from a file)');
  const file = pathToFileURL(join(config.web, 'index.html')).href;
  const filePage = await context.newPage();
  filePage.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  for (const [url, expect] of [[config.urlA, 'first'], [config.urlB, 'fork']]) {
    await filePage.goto(`${file}?log=${encodeURIComponent(url)}`);
    await filePage.waitForSelector('body[data-ready=true]');
    await filePage.fill('#vkey', config.vkey);
    await filePage.click('#pin-pasted');
    await verdict(filePage, '#trust-verdict', 'ok', /pinned/);
    await filePage.click('#check-log');
    await verdict(filePage, '#checkpoint-verdict', 'ok', /signed by the pinned key/);
    if (expect === 'first') await verdict(filePage, '#growth-verdict', 'ok', /first visit/);
  }
  await verdict(filePage, '#growth-verdict', 'fail', /FORK/);
  await verdict(filePage, '#fork', 'fail', /FORK: this log showed this browser size/);
  await filePage.screenshot({ path: join(config.shots, 'fork.png'), fullPage: true });

  // The fork stays on record: a later visit to the first server still says so.
  await filePage.goto(`${file}?log=${encodeURIComponent(config.urlA)}`);
  await filePage.fill('#vkey', config.vkey);
  await filePage.click('#pin-pasted');
  await verdict(filePage, '#fork', 'fail', /FORK/);
}

/** A live log whose checkpoints two `tradeledger witness` processes cosign (policy: both). */
async function witnessed() {
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  step('a live log with a witness quorum');
  await page.goto(`${config.urlA}/?check=no`);
  await page.waitForSelector('body[data-ready=true]');
  const pinPolicy = async (policy) => {
    await page.fill('#vkey', config.vkey);
    await page.fill('#policy', policy);
    await page.click('#pin-pasted');
    await verdict(page, '#trust-verdict', 'ok', /pinned/);
    await page.click('#check-log');
  };
  await pinPolicy(config.policy);
  await verdict(page, '#checkpoint-verdict', 'ok', /cosigned by witness0\.example, witness1\.example/);
  await verdict(page, '#entries-verdict', 'ok', /every entry's signature verified/);
  await page.screenshot({ path: join(config.shots, 'witnessed.png'), fullPage: true });
  step('a quorum the cosignatures do not meet');
  const third = witness('witness2.example');
  const stricter = config.policy.replace(/^group .*$/m, `witness w2 ${third.vkey}\ngroup both all w0 w1 w2`);
  await pinPolicy(stricter);
  await verdict(page, '#checkpoint-verdict', 'fail', /quorum "both" is not met \(valid cosignatures: w0, w1\)/);
}


/** Waits for `selector` to carry a verdict, then checks it and its reason. */
async function verdict(page, selector, want, reason) {
  const el = await page.waitForSelector(`${selector}[data-verdict]`, { timeout: 60000 });
  const got = await el.getAttribute('data-verdict');
  const text = await el.textContent();
  assert.equal(got, want, `${selector}: ${text}`);
  assert.match(text, reason, `${selector}: ${text}`);
  return text;
}

/** A witness key: { name, key, id, vkey } (vkey type 0x04, key id over name || 0x0A || 0x04 || key). */
function witness(name) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url');
  const typed = Buffer.concat([Buffer.from([0x04]), pub]);
  const id = createHash('sha256').update(Buffer.concat([Buffer.from(`${name}\n`), typed])).digest().subarray(0, 4);
  return { name, key: privateKey, id, vkey: `${name}+${id.toString('hex')}+${typed.toString('base64')}` };
}

/** Appends w's cosignature of the receipt's checkpoint; `corrupt` flips one bit of the signature. */
function cosign(receipt, w, corrupt = 0) {
  const start = receipt.indexOf('\n\n') + 2;
  const text = receipt.slice(start, receipt.indexOf('\n\n', start) + 1);
  const time = BigInt(Math.floor(Date.now() / 1000));
  const signature = sign(null, Buffer.from(`cosignature/v1\ntime ${time}\n${text}`), w.key);
  signature[0] ^= corrupt;
  const stamp = Buffer.alloc(8);
  stamp.writeBigUInt64BE(time);
  return `${receipt}\u2014 ${w.name} ${Buffer.concat([w.id, stamp, signature]).toString('base64')}\n`;
}

function files(dir, ext) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path, ext);
    return path.endsWith(ext) ? [path] : [];
  }).sort();
}

/** Runs in the page: every vector through TL.merkle / TL.note, the page's own code. */
async function runVectors(vectors) {
  const { TL } = window;
  const b64 = (s) => {
    const bin = atob(s || '');
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  };
  const failed = [];
  let passed = 0;
  const expect = async (name, shouldFail, run) => {
    let error = null;
    try {
      await run();
    } catch (e) {
      if (!(e instanceof TL.bytes.VerifyError)) error = `threw ${e}`;
      else if (!shouldFail) error = `refused: ${e.message}`;
      else return void passed++;
    }
    if (error === null && shouldFail) error = 'accepted a must-reject case';
    if (error === null) passed++;
    else failed.push(`${name}: ${error}`);
  };
  for (const { name, text } of vectors) {
    const v = JSON.parse(text);
    if (name.startsWith('rfc6962/inclusion/')) {
      await expect(name, v.wantErr, () => TL.merkle.verifyInclusion(BigInt(v.leafIdx), BigInt(v.treeSize),
        b64(v.leafHash), (v.proof || []).map(b64), b64(v.root)));
    } else if (name.startsWith('rfc6962/consistency/')) {
      await expect(name, v.wantErr, () => TL.merkle.verifyConsistency(BigInt(v.size1), BigInt(v.size2),
        b64(v.root1), b64(v.root2), (v.proof || []).map(b64)));
    } else if (name === 'signed-note/vectors.json') {
      const ex = v.c2sp_example;
      const open = async (note, vkey) => TL.note.openNote(note, [await TL.note.parseVkey(vkey)]);
      await expect('c2sp_example', false, () => open(ex.note, ex.vkey));
      // Must-reject variants of the example: changed text, changed signature, other key name.
      await expect('c2sp_example changed text', true, () => open(ex.note.replace('example', 'exbmple'), ex.vkey));
      const sig = ex.note.split(' ').pop();
      const badSig = ex.note.replace(sig, sig.slice(0, 10) + (sig[10] === 'A' ? 'B' : 'A') + sig.slice(11));
      await expect('c2sp_example changed signature', true, () => open(badSig, ex.vkey));
      await expect('c2sp_example wrong key id', true, () => TL.note.parseVkey(ex.vkey.replace('+530d903a+', '+530d903b+')));
      const go = v.go_sumdb_note_sign;
      await expect('go_sumdb_note_sign', false, async () => {
        const note = await TL.note.signNote(go.skey, go.text);
        if (note !== go.note) throw new Error(`signed note differs: ${note}`);
      });
    }
  }
  return { passed, failed };
}
