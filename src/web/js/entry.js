// tradeledger entries, version 1 (docs/formats.md "Entry encoding"): decoding every kind, and the entry
// signature (Ed25519 over "tradeledger/entry/v1\n" || the encoding without its signature).
'use strict';
(function (TL) {
  const { fail, toHex, utf8, concat } = TL.bytes;
  const MAX_ENTRY = 65535;
  const DOMAIN = utf8('tradeledger/entry/v1\n');
  const CONSENT_DOMAIN = utf8('tradeledger/rotation/v1\n');
  // Kind 8 is a registration that also carries the sealed digest of its uploads; kind 9 an access receipt
  // listing the releases of a group of concurrent opens (docs/formats.md).
  const KINDS = { 1: 'enrollment', 2: 'registration', 3: 'grant', 4: 'revocation', 5: 'purge', 6: 'access', 7: 'rotation', 8: 'registration', 9: 'access' };
  const MAX_RELEASES = 1024;
  const ROLES = { 1: 'importer', 2: 'exporter', 3: 'producer', 4: 'broker', 5: 'customs', 6: 'auditor', 7: 'operator' };
  const LOG_SIGNER = 'log';

  class Reader {
    constructor(bytes) {
      this.bytes = bytes;
      this.at = 0;
    }
    take(n, what) {
      if (this.at + n > this.bytes.length) fail(`entry: truncated in ${what}`);
      const out = this.bytes.slice(this.at, this.at + n);
      this.at += n;
      return out;
    }
    u8(what) {
      return this.take(1, what)[0];
    }
    u16(what) {
      const b = this.take(2, what);
      return (b[0] << 8) | b[1];
    }
    u64(what) {
      return new DataView(this.take(8, what).buffer).getBigUint64(0);
    }
    party(what) {
      const len = this.u16(what);
      if (len < 1 || len > 64) fail(`entry: ${what} has length ${len}, not 1 to 64`);
      const bytes = this.take(len, what);
      const id = String.fromCharCode(...bytes);
      if (!/^[a-z0-9][a-z0-9._-]*$/.test(id)) fail(`entry: ${what} is not a valid party id`);
      return { id, raw: concat(TL.bytes.u16be(len), bytes) };
    }
    time(what) {
      return Number(this.u64(what)); // milliseconds; exact below 2^53, i.e. until year 287396
    }
    role() {
      const code = this.u8('role');
      if (!ROLES[code]) fail(`entry: unknown role code ${code}`);
      return ROLES[code];
    }
  }

  /** Decodes a stored entry; refuses unknown versions, kinds, roles, truncation and trailing bytes. */
  function decodeEntry(bytes) {
    if (bytes.length > MAX_ENTRY) fail('entry: longer than 65535 bytes');
    const r = new Reader(bytes);
    const version = r.u8('version');
    if (version !== 1) fail(`entry: unknown version ${version}`);
    const code = r.u8('kind');
    const kind = KINDS[code];
    if (!kind) fail(`entry: unknown kind ${code}`);
    const e = { kind };
    switch (code) {
      case 1: {
        e.party = r.party('party').id;
        e.role = r.role();
        e.signingKey = r.take(32, 'signing key');
        e.encryptionKey = r.take(32, 'encryption key');
        const flag = r.u8('replaces flag');
        if (flag > 1) fail(`entry: replaces flag ${flag}`);
        if (flag === 1) e.replaces = r.take(32, 'replaced key');
        break;
      }
      case 2:
      case 8: {
        e.cert = toHex(r.take(16, 'certificate id'));
        e.commitment = r.take(32, 'commitment');
        e.registrant = r.party('registrant').id;
        const count = r.u16('grant count');
        if (count > 64) fail(`entry: ${count} grants, more than 64`);
        e.grants = [];
        for (let i = 0; i < count; i++) e.grants.push(r.take(32, 'grant commitment'));
        if (code === 8) e.sealed = r.take(32, 'sealed digest');
        break;
      }
      case 3:
      case 4:
      case 6:
        e.cert = toHex(r.take(16, 'certificate id'));
        e.grant = r.take(32, 'grant commitment');
        if (code === 6) e.releases = [{ cert: e.cert, grant: e.grant }];
        break;
      case 9: {
        const count = r.u16('release count');
        if (count < 1 || count > MAX_RELEASES) fail(`entry: ${count} releases, not 1 to ${MAX_RELEASES}`);
        e.releases = [];
        for (let i = 0; i < count; i++) {
          e.releases.push({ cert: toHex(r.take(16, 'certificate id')), grant: r.take(32, 'grant commitment') });
        }
        break;
      }
      case 5:
        e.cert = toHex(r.take(16, 'certificate id'));
        break;
      case 7: {
        const party = r.party('party');
        e.party = party.id;
        const roleAt = r.at;
        e.role = r.role();
        e.signingKey = r.take(32, 'signing key');
        e.encryptionKey = r.take(32, 'encryption key');
        e.replaces = r.take(32, 'replaced key');
        e.consentMessage = concat(CONSENT_DOMAIN, party.raw, bytes.slice(roleAt, r.at));
        e.consent = r.take(64, 'consent');
        break;
      }
    }
    e.time = r.time('time');
    e.signer = r.party('signer').id;
    const signedLength = r.at;
    e.signature = r.take(64, 'signature');
    if (r.at !== bytes.length) fail('entry: trailing bytes');
    e.signedMessage = concat(DOMAIN, bytes.slice(0, signedLength));
    return e;
  }

  async function importEd25519(pub) {
    try {
      return await crypto.subtle.importKey('raw', pub, { name: 'Ed25519' }, false, ['verify']);
    } catch (_) {
      return null; // not a valid Ed25519 key: nothing verifies with it
    }
  }

  /** Whether the entry is about certificate `cert` (an access receipt of kind 9 may list several). */
  function isAbout(entry, cert) {
    return entry.cert === cert || (entry.releases || []).some((r) => r.cert === cert);
  }

  /** Whether the entry's signature verifies with the raw 32-byte Ed25519 key `pub` (or a CryptoKey). */
  async function signedBy(entry, pub) {
    const key = pub instanceof Uint8Array ? await importEd25519(pub) : pub;
    return key !== null && TL.note.ed25519Verify(key, entry.signature, entry.signedMessage);
  }

  /** Whether a rotation's consent verifies with the key it replaces. */
  async function consentHolds(entry) {
    const key = await importEd25519(entry.replaces);
    return key !== null && TL.note.ed25519Verify(key, entry.consent, entry.consentMessage);
  }

  TL.entry = { decodeEntry, signedBy, consentHolds, isAbout, LOG_SIGNER, KINDS };
})((window.TL = window.TL || {}));
