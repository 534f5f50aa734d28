// JOSE for the page's credential verifier, written from RFC 7515 (compact JWS), RFC 8037 (EdDSA, OKP JWKs)
// and the did:jwk method: strict base64url, the did:jwk of `kid`, and an EdDSA signature checked with
// WebCrypto. Only `alg` EdDSA is accepted; `crit` and `b64` (unencoded payloads) are refused.
'use strict';
(function (TL) {
  const { fail, fromB64, toB64, utf8, fromUtf8 } = TL.bytes;
  const { parseJson, str } = TL.json;
  const DID_PREFIX = 'did:jwk:';
  const METHOD = '#0';
  const MAX_DID = 1024;
  const MAX_HEADER = 64 << 10;
  const JWK_MEMBERS = ['kty', 'crv', 'x', 'alg', 'use', 'kid'];

  /** RFC 4648 §5 base64url without padding, canonical (no stray bits), or a VerifyError naming `what`. */
  function fromB64url(text, what) {
    if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
      fail(`${what}: not base64url without padding`);
    }
    const padded = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
    try {
      return fromB64(padded, what);
    } catch (_) {
      return fail(`${what}: not canonical base64url`);
    }
  }

  function toB64url(bytes) {
    return toB64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  /** A JSON object from base64url-encoded UTF-8 (duplicate members refused), as a Map. */
  function b64urlObject(text, what) {
    const value = parseJson(fromUtf8(fromB64url(text, what), what), what);
    if (!(value instanceof Map)) fail(`${what}: not a JSON object`);
    return value;
  }

  /** The did:jwk a key is named by, canonical as tradeledger writes it (RFC 7638 member order). */
  function didOf(pub) {
    return DID_PREFIX + toB64url(utf8(`{"crv":"Ed25519","kty":"OKP","x":"${toB64url(pub)}"}`));
  }

  /** The Ed25519 public key (32 bytes) of a did:jwk or its verification method `#0`. */
  function decodeDid(did) {
    if (did.length > MAX_DID) fail(`kid: the did:jwk is longer than ${MAX_DID} characters`);
    if (!did.startsWith(DID_PREFIX)) fail('kid: does not start with "did:jwk:"');
    let encoded = did.slice(DID_PREFIX.length);
    const hash = encoded.indexOf('#');
    if (hash >= 0) {
      if (encoded.slice(hash) !== METHOD) fail('kid: the only verification method of a did:jwk is #0');
      encoded = encoded.slice(0, hash);
    }
    const jwk = b64urlObject(encoded, 'kid: the did:jwk JWK');
    if (jwk.has('d')) fail('kid: the JWK holds a private key (member d); a DID names a public key');
    for (const name of jwk.keys()) if (!JWK_MEMBERS.includes(name)) fail(`kid: the JWK has an unexpected member "${name}"`);
    if (jwk.get('kty') !== 'OKP') fail('kid: the JWK kty must be "OKP" (only Ed25519 keys are accepted)');
    if (jwk.get('crv') !== 'Ed25519') fail('kid: the JWK crv must be "Ed25519"');
    if (jwk.has('alg') && jwk.get('alg') !== 'EdDSA' && jwk.get('alg') !== 'Ed25519') fail('kid: the JWK alg must be "EdDSA"');
    if (jwk.has('use') && jwk.get('use') !== 'sig') fail('kid: the JWK use must be "sig"');
    if (jwk.has('kid')) str(jwk.get('kid'), 'kid: the JWK kid');
    if (!jwk.has('x')) fail('kid: the JWK x (the public key) is missing');
    const x = fromB64url(str(jwk.get('x'), 'kid: the JWK x'), 'kid: the JWK x');
    if (x.length !== 32) fail('kid: the JWK x is not 32 bytes');
    return x;
  }

  /** `typ` compared as a media type: case-insensitive, with or without "application/". */
  function sameType(typ, expected) {
    const bare = (t) => t.toLowerCase().replace(/^application\//, '');
    return bare(typ) === bare(expected);
  }

  /**
   * Verifies a compact JWS whose `kid` is a did:jwk verification method, with `typ` `expectedTyp`. Returns
   * { header (Map), payload (bytes), key (32 bytes), did (canonical did:jwk of key) } or throws a VerifyError.
   */
  async function verifyCompact(token, expectedTyp, what) {
    const parts = token.split('.');
    if (parts.length !== 3) fail(`${what}: a compact JWS has 3 parts, this has ${parts.length}`);
    const [headerB64, payloadB64, signatureB64] = parts;
    if (headerB64.length > (MAX_HEADER / 3) * 4) fail(`${what}: the protected header is longer than 64 KiB`);
    const header = b64urlObject(headerB64, `${what}: protected header`);
    if (header.get('alg') !== 'EdDSA') fail(`${what}: alg must be "EdDSA" (it is ${TL.json.display(header.get('alg') ?? null)})`);
    if (header.has('crit')) fail(`${what}: crit names extensions this page does not implement`);
    if (header.has('b64')) fail(`${what}: unencoded payloads (b64) are not accepted`);
    const typ = header.get('typ');
    if (typeof typ !== 'string' || !sameType(typ, expectedTyp)) fail(`${what}: typ must be "${expectedTyp}"`);
    const kid = header.get('kid');
    if (typeof kid !== 'string') fail(`${what}: kid is missing or not a string (a did:jwk verification method is required)`);
    if (!kid.endsWith(METHOD)) fail(`${what}: kid must be a did:jwk verification method ending in #0`);
    const pub = decodeDid(kid);
    const payload = fromB64url(payloadB64, `${what}: payload`);
    const signature = fromB64url(signatureB64, `${what}: signature`);
    if (signature.length !== 64) fail(`${what}: the signature is not 64 bytes`);
    let key;
    try {
      key = await crypto.subtle.importKey('raw', pub, { name: 'Ed25519' }, false, ['verify']);
    } catch (_) {
      fail(`${what}: the did:jwk key is not an Ed25519 public key`);
    }
    if (!(await TL.note.ed25519Verify(key, signature, utf8(`${headerB64}.${payloadB64}`)))) {
      fail(`${what}: the signature does not verify with the key of its did:jwk kid`);
    }
    return { header, payload, key: pub, did: didOf(pub) };
  }

  TL.jose = { fromB64url, toB64url, didOf, decodeDid, verifyCompact };
})((window.TL = window.TL || {}));
