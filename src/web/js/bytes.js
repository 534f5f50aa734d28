// Byte helpers for the page's verifier: strict base64 (RFC 4648 §4) and hex, UTF-8, big-endian integers,
// SHA-256 through WebCrypto. Classic script (not an ES module) so the page also works opened from a file,
// where browsers refuse module scripts; everything hangs off the one global `TL`.
'use strict';
(function (TL) {
  /** A verification failure; `message` is the reason shown to the user. */
  class VerifyError extends Error {}
  function fail(reason) {
    throw new VerifyError(reason);
  }

  const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

  /** Standard base64 with padding, canonical (no stray bits), or a VerifyError naming `what`. */
  function fromB64(text, what) {
    if (typeof text !== 'string' || !B64.test(text)) fail(`${what}: not standard base64`);
    const bin = atob(text);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    if (toB64(out) !== text) fail(`${what}: not canonical base64`);
    return out;
  }

  function toB64(bytes) {
    let bin = '';
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin);
  }

  /** Lowercase hex of an even length, or a VerifyError naming `what`. */
  function fromHex(text, what) {
    if (typeof text !== 'string' || !/^(?:[0-9a-f]{2})*$/.test(text)) fail(`${what}: not lowercase hex`);
    const out = new Uint8Array(text.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
    return out;
  }

  function toHex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  const encoder = new TextEncoder();
  function utf8(text) {
    return encoder.encode(text);
  }

  /** Strict UTF-8 decoding (a malformed byte is an error, never U+FFFD). */
  function fromUtf8(bytes, what) {
    try {
      return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch (_) {
      fail(`${what}: not valid UTF-8`);
    }
  }

  function concat(...parts) {
    const total = parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  function equal(a, b) {
    if (a.length !== b.length) return false;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
    return diff === 0;
  }

  function u16be(n) {
    return new Uint8Array([(n >> 8) & 0xff, n & 0xff]);
  }

  function u64be(big) {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, big);
    return out;
  }

  async function sha256(...parts) {
    return new Uint8Array(await crypto.subtle.digest('SHA-256', concat(...parts)));
  }

  /** Decimal without leading zeros ("0" alone), at most 2^64-1, as a BigInt; else a VerifyError. */
  function parseU64(text, what) {
    if (typeof text !== 'string' || !/^(?:0|[1-9][0-9]{0,19})$/.test(text)) fail(`${what}: not a decimal number`);
    const n = BigInt(text);
    if (n > 0xffffffffffffffffn) fail(`${what}: larger than 2^64-1`);
    return n;
  }

  TL.bytes = { VerifyError, fail, fromB64, toB64, fromHex, toHex, utf8, fromUtf8, concat, equal, u16be, u64be, sha256, parseU64 };
})((window.TL = window.TL || {}));
