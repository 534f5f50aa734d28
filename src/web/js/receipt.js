// Receipts: C2SP tlog-proof v1 whose `extra` carries the entry's bytes (docs/formats.md "Receipts"), with
// tradeledger's optional consistency extension (tradeledger/tlog-consistency@v1).
'use strict';
(function (TL) {
  const { fail, fromB64, parseU64 } = TL.bytes;
  const HEADER = 'c2sp.org/tlog-proof@v1';
  const EXTENSION = 'tradeledger/tlog-consistency@v1';

  /** Splits "<header lines>\n<hash lines>\n\n<note>" into its parts. */
  function parseReceipt(text) {
    if (!text.startsWith(`${HEADER}\n`)) fail(`receipt: does not start with ${HEADER}`);
    const blank = text.indexOf('\n\n');
    if (blank < 0) fail('receipt: no blank line before the checkpoint');
    const lines = text.slice(0, blank).split('\n').slice(1);
    let rest = text.slice(blank + 2);
    let extra = null;
    if (lines.length > 0 && lines[0].startsWith('extra ')) extra = fromB64(lines.shift().slice(6), 'receipt extra');
    const indexLine = lines.shift();
    if (indexLine === undefined || !indexLine.startsWith('index ')) fail('receipt: no index line');
    const index = parseU64(indexLine.slice(6), 'receipt index');
    if (lines.length > 63) fail('receipt: more than 63 proof hashes');
    const proof = lines.map((l, i) => fromB64(l, `receipt proof line ${i + 1}`));
    let extension = null;
    const at = rest.indexOf(`\n\n${EXTENSION}\n`);
    if (at >= 0) {
      extension = parseExtension(rest.slice(at + 2));
      rest = rest.slice(0, at + 1);
    }
    return { extra, index, proof, note: rest, extension };
  }

  function parseExtension(text) {
    const blank = text.indexOf('\n\n');
    if (blank < 0) fail('consistency extension: no blank line before the checkpoint');
    const lines = text.slice(0, blank).split('\n').slice(1);
    const oldLine = lines.shift();
    if (oldLine === undefined || !oldLine.startsWith('old ')) fail('consistency extension: no old line');
    if (lines.length > 63) fail('consistency extension: more than 63 proof hashes');
    return {
      old: parseU64(oldLine.slice(4), 'consistency extension old'),
      proof: lines.map((l, i) => fromB64(l, `consistency extension line ${i + 1}`)),
      note: text.slice(blank + 2),
    };
  }

  /** Verifies a receipt under `trust`; returns the entry, its index and the checkpoint(s). */
  async function verifyReceipt(text, trust) {
    const r = parseReceipt(text);
    const checkpoint = await TL.note.verifyCheckpoint(r.note, trust);
    if (r.extra === null) fail('receipt: no extra line, so the entry it proves is unknown');
    try {
      await TL.merkle.verifyInclusion(r.index, checkpoint.size, await TL.merkle.leafHash(r.extra), r.proof, checkpoint.root);
    } catch (e) {
      fail(`receipt: the entry is not at index ${r.index} of the signed checkpoint: ${e.message}`);
    }
    // Decoded only after the proof held: the extra line is not authenticated on its own.
    const entry = TL.entry.decodeEntry(r.extra);
    let newer = null;
    if (r.extension) {
      newer = await TL.note.verifyCheckpoint(r.extension.note, trust);
      if (r.extension.old !== checkpoint.size) fail('consistency extension: old is not the receipt checkpoint size');
      await TL.merkle.verifyConsistency(checkpoint.size, newer.size, checkpoint.root, newer.root, r.extension.proof);
    }
    return { index: r.index, entry, checkpoint, newer };
  }

  TL.receipt = { verifyReceipt, parseReceipt, HEADER };
})((window.TL = window.TL || {}));
