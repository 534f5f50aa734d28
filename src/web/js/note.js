// C2SP signed-note: verifier keys (vkeys), opening a note, Ed25519 signatures (type 0x01) and witness
// cosignatures (C2SP tlog-cosignature v1, type 0x04); C2SP tlog-checkpoint parsing. Ed25519 is WebCrypto's.
'use strict';
(function (TL) {
  const { fail, fromB64, fromHex, toHex, utf8, concat, equal, sha256, u64be, parseU64 } = TL.bytes;
  const ED25519 = 0x01;
  const COSIGNATURE_V1 = 0x04;
  const MAX_SIGNATURES = 100;

  /** C2SP signed-note: a key name is non-empty, without Unicode white space, `+` or control characters. */
  function validName(name) {
    return name.length > 0 && !/[\s+\p{Cc}]/u.test(name);
  }

  /** Key id: SHA-256(name || 0x0A || type || public key)[:4] (C2SP signed-note "Verifier keys"). */
  async function keyId(name, type, pub) {
    return (await sha256(utf8(name), new Uint8Array([0x0a, type]), pub)).slice(0, 4);
  }

  /** Parses `<name>+<8 hex key id>+base64(type || key)` and recomputes the id. */
  async function parseVkey(text, what = 'verifier key') {
    const vkey = String(text).trim();
    // Key names have no '+'; base64 may, so only the first two '+' separate.
    const parts = vkey.split('+');
    if (parts.length < 3) fail(`${what}: expected name+keyid+key`);
    const [name, idHex] = parts;
    const keyB64 = parts.slice(2).join('+');
    if (!validName(name)) fail(`${what}: invalid key name`);
    if (!/^[0-9a-f]{8}$/.test(idHex)) fail(`${what}: the key id is not 8 lowercase hex digits`);
    const raw = fromB64(keyB64, what);
    const type = raw[0];
    if ((type !== ED25519 && type !== COSIGNATURE_V1) || raw.length !== 33) {
      fail(`${what}: not an Ed25519 (0x01) or cosignature/v1 (0x04) key`);
    }
    const pub = raw.slice(1);
    const id = await keyId(name, type, pub);
    if (!equal(id, fromHex(idHex, what))) fail(`${what}: the key id does not match the key`);
    let key;
    try {
      key = await crypto.subtle.importKey('raw', pub, { name: 'Ed25519' }, false, ['verify']);
    } catch (_) {
      fail(`${what}: not a valid Ed25519 public key`);
    }
    return { vkey, name, id, type, pub, key };
  }

  /** A fingerprint to read aloud: SHA-256 of the public key, hex in groups of four. */
  async function fingerprint(parsed) {
    return toHex(await sha256(parsed.pub)).match(/.{4}/g).join(' ');
  }

  async function ed25519Verify(key, signature, message) {
    try {
      return await crypto.subtle.verify({ name: 'Ed25519' }, key, signature, message);
    } catch (_) {
      return false;
    }
  }

  /**
   * Opens a note against known keys: `logKeys` (type 0x01) and `witnessKeys` (type 0x04). A signature line
   * matching a known key must verify or the note is refused; unknown signatures are counted, not trusted.
   * At least one log key must have signed. Returns { text, logs: [names], witnesses: [verified keys], unknown }.
   */
  async function openNote(note, logKeys, witnessKeys = []) {
    if (typeof note !== 'string') fail('note: not text');
    if (/[\u0000-\u0009\u000b-\u001f\u007f]/.test(note)) fail('note: contains a control character');
    const split = note.lastIndexOf('\n\n');
    if (split < 0) fail('note: no blank line before the signatures');
    const text = note.slice(0, split + 1);
    const block = note.slice(split + 2);
    if (block === '' || !block.endsWith('\n')) fail('note: the signature block is empty or unterminated');
    const lines = block.slice(0, -1).split('\n');
    if (lines.length > MAX_SIGNATURES) fail(`note: more than ${MAX_SIGNATURES} signatures`);
    const message = utf8(text);
    const logs = new Set();
    const witnesses = new Set();
    let unknown = 0;
    for (const line of lines) {
      const m = /^\u2014 (\S+) (\S+)$/u.exec(line);
      if (!m || !validName(m[1])) fail('note: a signature line is not "— name signature"');
      const sig = fromB64(m[2], `note: signature of ${m[1]}`);
      if (sig.length < 5) fail(`note: signature of ${m[1]} is too short`);
      const id = sig.slice(0, 4);
      const log = logKeys.find((k) => k.name === m[1] && equal(k.id, id));
      const witness = witnessKeys.find((k) => k.name === m[1] && equal(k.id, id));
      if (log) {
        if (sig.length !== 68 || !(await ed25519Verify(log.key, sig.slice(4), message))) {
          fail(`note: the signature by ${log.name} does not verify`);
        }
        logs.add(log.name);
      } else if (witness) {
        // tlog-cosignature v1: key id (4) || timestamp (8, big-endian) || Ed25519 signature (64) over
        // "cosignature/v1\ntime <timestamp>\n" || note text.
        if (sig.length !== 76) fail(`note: the cosignature by ${witness.name} is not 76 bytes`);
        const time = new DataView(sig.buffer, sig.byteOffset + 4, 8).getBigUint64(0);
        const signed = concat(utf8(`cosignature/v1\ntime ${time}\n`), message);
        if (time === 0n || time > 0x7fffffffffffffffn || !(await ed25519Verify(witness.key, sig.slice(12), signed))) {
          fail(`note: the cosignature by ${witness.name} does not verify`);
        }
        witnesses.add(witness);
      } else {
        unknown += 1;
      }
    }
    if (logs.size === 0) fail('note: not signed by the pinned log key');
    return { text, logs: [...logs], witnesses: [...witnesses], unknown };
  }

  /** C2SP tlog-checkpoint body: origin, decimal size, base64 root of 32 bytes, optional extension lines. */
  function parseCheckpoint(text) {
    const lines = text.slice(0, -1).split('\n');
    if (lines.length < 3) fail('checkpoint: fewer than three lines');
    const [origin, size, root, ...extensions] = lines;
    if (origin === '') fail('checkpoint: empty origin');
    if (extensions.some((l) => l === '')) fail('checkpoint: empty extension line');
    const rootBytes = fromB64(root, 'checkpoint root');
    if (rootBytes.length !== 32) fail('checkpoint: the root is not 32 bytes');
    return { origin, size: parseU64(size, 'checkpoint size'), root: rootBytes, extensions };
  }

  /**
   * Verifies a checkpoint note under the trust the user pinned: { log: parsed vkey, policy?: parsed policy }.
   * The origin must be the log key's name; with a policy, the cosigning witnesses must meet its quorum.
   */
  async function verifyCheckpoint(note, trust) {
    const witnessKeys = trust.policy ? trust.policy.witnesses.map((w) => w.key) : [];
    const opened = await openNote(note, [trust.log], witnessKeys);
    const checkpoint = parseCheckpoint(opened.text);
    if (checkpoint.origin !== trust.log.name) {
      fail(`checkpoint: origin "${checkpoint.origin}" is not the pinned log's "${trust.log.name}"`);
    }
    if (trust.policy) TL.policy.requireQuorum(trust.policy, opened.witnesses);
    return { ...checkpoint, note, text: opened.text, witnesses: opened.witnesses.map((k) => k.name).sort() };
  }

  /** Signs like golang.org/x/mod/sumdb/note (for the published vector): PRIVATE+KEY+name+id+base64(1||seed). */
  async function signNote(skey, text) {
    const parts = skey.split('+');
    if (parts.length < 5 || parts[0] !== 'PRIVATE' || parts[1] !== 'KEY') fail('signer key: bad format');
    const raw = fromB64(parts.slice(4).join('+'), 'signer key');
    if (raw.length !== 33 || raw[0] !== ED25519) fail('signer key: not Ed25519');
    // PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410 §7): a fixed 16-byte prefix.
    const prefix = fromHex('302e020100300506032b657004220420', 'pkcs8');
    const key = await crypto.subtle.importKey('pkcs8', concat(prefix, raw.slice(1)), { name: 'Ed25519' }, false, ['sign']);
    const sig = new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, key, utf8(text)));
    return `${text}\n\u2014 ${parts[2]} ${TL.bytes.toB64(concat(fromHex(parts[3], 'key id'), sig))}\n`;
  }

  TL.note = { parseVkey, fingerprint, openNote, parseCheckpoint, verifyCheckpoint, signNote, ed25519Verify, validName, u64be };
})((window.TL = window.TL || {}));
