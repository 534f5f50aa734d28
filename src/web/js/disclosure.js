// Disclosure JSON (docs/formats.md "Document commitment" and "Disclosure JSON"): each disclosed field is
// rebuilt as a leaf (pointer, salt, encoded value) and proven against the registered document commitment.
'use strict';
(function (TL) {
  const { fail, fromHex, utf8, concat, u16be } = TL.bytes;
  const { JsonNumber, members, str, uint, list } = TL.json;
  const FIELD_DOMAIN = utf8('tradeledger/field/v1');
  const I64_MIN = -(2n ** 63n);
  const U64_MAX = 2n ** 64n - 1n;

  /** RFC 6901: "" or a sequence of "/" reference tokens, where "~" is only "~0" or "~1". */
  function validPointer(p) {
    return /^(?:\/(?:[^~/]|~[01])*)*$/.test(p);
  }

  /** The leaf value encoding: one type byte, then the payload. */
  function encodeValue(v, what) {
    if (v === null) return new Uint8Array([0x00]);
    if (v === true || v === false) return new Uint8Array([0x01, v ? 1 : 0]);
    if (typeof v === 'string') return concat(new Uint8Array([0x04]), utf8(v));
    if (v instanceof JsonNumber) {
      const isInteger = /^-?[0-9]+$/.test(v.text);
      if (isInteger) {
        const n = BigInt(v.text);
        // "-0" is not an integer to serde_json (it becomes the binary64 -0.0).
        const negativeZero = v.text.startsWith('-') && n === 0n;
        if (!negativeZero && n >= I64_MIN && n <= U64_MAX) return concat(new Uint8Array([0x02]), utf8(n.toString()));
      }
      const f = Number(v.text);
      if (!Number.isFinite(f)) fail(`${what}: number out of range`);
      const out = new Uint8Array(9);
      out[0] = 0x03;
      new DataView(out.buffer).setFloat64(1, f);
      return out;
    }
    if (v instanceof Map && v.size === 0) return new Uint8Array([0x05]);
    if (Array.isArray(v) && v.length === 0) return new Uint8Array([0x06]);
    return fail(`${what}: not a leaf value (a non-empty object or array)`);
  }

  function compareBytes(a, b) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
    return a.length - b.length;
  }

  /**
   * Verifies a parsed disclosure (a Map from TL.json) against `commitment` (32 bytes). Returns
   * { certId, fields: [{ pointer, value }] }, or throws a VerifyError naming the field that failed.
   */
  async function verifyDisclosure(parsed, commitment) {
    const d = members(parsed, 'disclosure', ['version', 'cert_id', 'tree_size', 'fields']);
    if (uint(d.version, 'disclosure version') !== 1n) fail('disclosure: version is not 1');
    const certId = str(d.cert_id, 'disclosure cert_id');
    if (!/^[0-9a-f]{32}$/.test(certId)) fail('disclosure: cert_id is not 32 lowercase hex digits');
    const treeSize = uint(d.tree_size, 'disclosure tree_size');
    const fields = list(d.fields, 'disclosure fields');
    if (fields.length === 0) fail('disclosure: no fields');
    const out = [];
    let previous = null;
    for (let i = 0; i < fields.length; i++) {
      const what = `disclosure field ${i}`;
      const f = members(fields[i], what, ['pointer', 'value', 'salt', 'leaf_index', 'proof']);
      const pointer = str(f.pointer, `${what} pointer`);
      if (!validPointer(pointer)) fail(`${what}: "${pointer}" is not an RFC 6901 pointer`);
      const salt = fromHex(str(f.salt, `${what} salt`), `${what} salt`);
      if (salt.length !== 32) fail(`${what}: the salt is not 32 bytes`);
      const index = uint(f.leaf_index, `${what} leaf_index`);
      const proof = list(f.proof, `${what} proof`).map((h, j) => fromHex(str(h, `${what} proof ${j}`), `${what} proof ${j}`));
      const pointerBytes = utf8(pointer);
      if (pointerBytes.length > 0xffff) fail(`${what}: pointer too long`);
      if (previous && (index <= previous.index || compareBytes(pointerBytes, previous.pointerBytes) <= 0)) {
        fail(`${what} (${pointer}): fields are not in increasing leaf and pointer order`);
      }
      previous = { index, pointerBytes };
      const leafData = concat(FIELD_DOMAIN, u16be(pointerBytes.length), pointerBytes, salt, encodeValue(f.value, what));
      try {
        await TL.merkle.verifyInclusion(index, treeSize, await TL.merkle.leafHash(leafData), proof, commitment);
      } catch (e) {
        fail(`field ${pointer} (leaf ${index} of tree_size ${treeSize}) does not match the registered commitment: ${e.message}`);
      }
      out.push({ pointer, value: f.value });
    }
    return { certId, fields: out };
  }

  TL.disclosure = { verifyDisclosure, encodeValue, validPointer };
})((window.TL = window.TL || {}));
