// Replaying the whole log in the browser: every entry decoded and its signature checked with the key its
// signer had enrolled at that point (docs/formats.md "Entry encoding", "Lifecycle"), then counts by kind,
// a time series for the chart, and one certificate's public history.
'use strict';
(function (TL) {
  const { equal } = TL.bytes;
  const LOG = TL.entry.LOG_SIGNER;

  /**
   * Replays decoded-or-not `entries` (Uint8Array each) under the pinned log key. Every row is
   * { index, entry?, ok, reason }; `ok` is false with a reason for anything a verifier must refuse.
   */
  async function replay(entries, logKey) {
    const parties = new Map(); // id -> { role, key, held: [keys] }
    const certs = new Map(); // cert -> registrant
    let operator = null;
    const rows = [];
    for (let i = 0; i < entries.length; i++) {
      let e;
      try {
        e = TL.entry.decodeEntry(entries[i]);
      } catch (err) {
        rows.push({ index: i, ok: false, reason: err.message });
        continue;
      }
      rows.push({ index: i, entry: e, ...(await check(e, i)) });
    }
    return rows;

    async function bySigner(e, expected) {
      if (e.signer !== expected) return `signed by ${e.signer}, not ${expected}`;
      if (expected === LOG) return (await TL.entry.signedBy(e, logKey.key)) ? null : 'the log key signature does not verify';
      const p = parties.get(expected);
      if (!p) return `${expected} is not enrolled`;
      return (await TL.entry.signedBy(e, p.key)) ? null : `the signature does not verify with ${expected}'s enrolled key`;
    }

    async function check(e, i) {
      const result = (reason) => ({ ok: reason === null, reason: reason || 'signature verified' });
      if (i === 0) {
        if (e.kind !== 'enrollment' || e.role !== 'operator') return result('entry 0 is not the operator enrollment');
        const bad = await bySigner(e, LOG);
        if (bad === null) {
          operator = e.party;
          parties.set(e.party, { role: e.role, key: e.signingKey, held: [e.signingKey] });
        }
        return result(bad);
      }
      if (operator === null) return result('entry 0 did not verify');
      switch (e.kind) {
        case 'enrollment': {
          if (e.party === LOG) return result('an enrollment of the reserved party id "log"');
          if (parties.has(e.party)) return result(`a second enrollment of ${e.party}`);
          if (e.replaces) return result('an enrollment may not replace a key (rotations do)');
          const bad = await bySigner(e, operator);
          if (bad === null) parties.set(e.party, { role: e.role, key: e.signingKey, held: [e.signingKey] });
          return result(bad);
        }
        case 'rotation': {
          const p = parties.get(e.party);
          if (!p) return result(`rotation of ${e.party}, which is not enrolled`);
          if (e.party === operator) return result('the operator key is not rotated');
          if (p.role !== e.role) return result('a rotation may not change the role');
          if (!equal(p.key, e.replaces)) return result(`the rotation replaces a key ${e.party} does not hold`);
          if (p.held.some((k) => equal(k, e.signingKey))) return result(`${e.party} rotates to a key it held before`);
          if (!(await TL.entry.consentHolds(e))) return result('the rotation consent does not verify');
          const bad = await bySigner(e, operator);
          if (bad === null) {
            p.key = e.signingKey;
            p.held.push(e.signingKey);
          }
          return result(bad);
        }
        case 'registration': {
          if (certs.has(e.cert)) return result(`certificate ${e.cert} registered twice`);
          if (e.registrant !== e.signer) return result('the registration names another registrant than its signer');
          const bad = await bySigner(e, e.registrant);
          if (bad === null) certs.set(e.cert, e.registrant);
          return result(bad);
        }
        case 'grant':
        case 'revocation':
        case 'purge': {
          const registrant = certs.get(e.cert);
          if (!registrant) return result(`certificate ${e.cert} is not registered`);
          const signer = e.kind === 'purge' && e.signer === LOG ? LOG : registrant;
          return result(await bySigner(e, signer));
        }
        case 'access': {
          // Each release the receipt lists (one for kind 6, a group's for kind 9) is of a registered certificate.
          const unknown = e.releases.find((r) => !certs.has(r.cert));
          if (unknown) return result(`certificate ${unknown.cert} is not registered`);
          return result(await bySigner(e, LOG));
        }
        default:
          return result('unknown kind');
      }
    }
  }

  /** Counts by kind. */
  function byKind(rows) {
    const counts = Object.fromEntries(Object.values(TL.entry.KINDS).map((k) => [k, 0]));
    for (const r of rows) if (r.entry) counts[r.entry.kind] += 1;
    return counts;
  }

  TL.logview = { replay, byKind };
})((window.TL = window.TL || {}));
