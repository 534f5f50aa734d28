// Credentials exported by tradeledger (docs/interop.md): a VC-JOSE credential (`typ` vc+jwt) and an SD-JWT VC
// presentation (RFC 9901, `typ` dc+sd-jwt), each carrying its log binding in the protected header parameter
// `tradeledger_log`. Checked against the pinned log key: the JWS under its did:jwk, the binding (bundle and
// receipt of one registration), that the signing key is the registrant's enrolled key, that the content is
// what the disclosed native fields map to (TL.mapping), and for SD-JWT that every disclosure is referenced
// exactly once by the signed payload.
'use strict';
(function (TL) {
  const { fail, equal, toHex, utf8, fromUtf8, sha256, VerifyError } = TL.bytes;
  const { members, str, uint, list, parseJson } = TL.json;
  const BINDING = 'tradeledger_log';
  const VC_TYP = 'vc+jwt';
  const SD_TYP = 'dc+sd-jwt';
  const MAX_TOKEN = 1 << 20;
  const MAX_PRESENTATION = 4 << 20;
  const MAX_DISCLOSURES = 4096;
  const MAX_DEPTH = 256;
  /** SD-JWT payload members that are about the token, not claims of the credential. */
  const JWT_MEMBERS = ['iss', 'vct', '_sd_alg', 'iat', 'cnf'];
  const ENVELOPE_MEMBER = 'tradeledger:envelope';

  /** Runs `check`, prefixing the reason of a VerifyError with `what`. */
  async function within(what, check) {
    try {
      return await check();
    } catch (e) {
      if (e instanceof VerifyError) fail(`${what}: ${e.message}`);
      throw e;
    }
  }

  /**
   * The log binding of a verified JWS header: its bundle and receipt verify under `trust`, name one and the same
   * registration, and the JWS key `signer` is the key the log enrolled for that registration's registrant.
   */
  async function verifyBinding(header, signer, trust) {
    if (!header.has(BINDING)) fail(`the protected header has no log binding (${BINDING})`);
    const b = members(header.get(BINDING), `the log binding (${BINDING})`, ['origin', 'index', 'cert_id', 'commitment', 'receipt', 'bundle']);
    const origin = str(b.origin, 'log binding origin');
    const index = uint(b.index, 'log binding index');
    const certId = str(b.cert_id, 'log binding cert_id');
    const commitment = str(b.commitment, 'log binding commitment');
    const bundle = await within("the log binding's bundle does not verify", () => TL.bundle.verifyParsedBundle(b.bundle, trust));
    const receipt = await within("the log binding's receipt does not verify", () => TL.receipt.verifyReceipt(str(b.receipt, 'receipt'), trust));
    const same = (what, ok) => ok || fail(`the log binding's ${what} does not match the registration it proves`);
    same('index', index === bundle.registrationIndex);
    same('receipt index', receipt.index === index);
    same('origin', origin === bundle.checkpoint.origin && origin === receipt.checkpoint.origin);
    same('certificate id', certId === bundle.certId);
    same('receipt certificate id', receipt.entry.cert === certId);
    same('receipt entry kind', receipt.entry.kind === 'registration');
    same('commitment', commitment === toHex(bundle.commitment));
    same('receipt entry', equal(receipt.entryBytes, bundle.registrationEntry));
    // Key transparency: the did:jwk must name the key the log enrolled for the registrant.
    if (!equal(signer, bundle.registrantKey)) {
      fail(`the issuer's key is not the key enrolled on the log for ${bundle.registrant}, the registrant of certificate ${bundle.certId}`);
    }
    return { bundle, receipt, origin };
  }

  /** JSON pointer token (RFC 6901). */
  const token = (name) => name.replace(/~/g, '~0').replace(/\//g, '~1');

  /** Leaves of a parsed JSON value as [pointer, value]: scalars, and arrays of scalars (the `type`s) whole. */
  function flatten(value, path, out) {
    if (value instanceof Map) {
      for (const [name, member] of value) flatten(member, `${path}/${token(name)}`, out);
    } else if (Array.isArray(value) && value.some((v) => v instanceof Map || Array.isArray(v))) {
      value.forEach((item, i) => flatten(item, `${path}/${i}`, out));
    } else {
      out.push([path, value]);
    }
    return out;
  }

  /** The credential type of the registered regime, which the log binding must disclose. */
  function registeredType(bundle) {
    const regime = bundle.fields.find((f) => f.pointer === '/regime');
    if (!regime) fail("the log binding does not disclose the certificate's /regime");
    const type = typeof regime.value === 'string' ? TL.mapping.TYPE_OF_REGIME[regime.value] : undefined;
    if (!type) fail(`regime ${TL.json.display(regime.value)} has no credential mapping`);
    return type;
  }

  /** A pointer with its array indices as `*`. */
  const pattern = (pointer) => pointer.split('/').map((s) => (/^[0-9]+$/.test(s) ? '*' : s)).join('/');

  function bindingFacts(did, bound) {
    const { bundle, receipt } = bound;
    return [
      ['issuer', `${did} (the key enrolled on the log for ${bundle.registrant})`],
      ['registrant', bundle.registrant],
      ['certificate', bundle.certId],
      ['registration', `entry ${bundle.registrationIndex} of log ${bound.origin}, ${new Date(bundle.registeredAt).toISOString()}`],
      ['checkpoint', `size ${bundle.checkpoint.size} (bundle), size ${receipt.checkpoint.size} (receipt)`],
      ['content', 'every claim equals what the registered fields the log binding discloses map to (docs/interop.md "Mapping")'],
    ];
  }

  /** A VC-JOSE credential (docs/interop.md "VC-JOSE"). */
  async function verifyVcJose(text, trust) {
    const jwt = text.trim();
    if (jwt.length > MAX_TOKEN) fail(`the VC-JOSE token is longer than ${MAX_TOKEN} bytes`);
    const jws = await TL.jose.verifyCompact(jwt, VC_TYP, 'the VC-JOSE token');
    const bound = await verifyBinding(jws.header, jws.key, trust);
    const credential = parseJson(fromUtf8(jws.payload, 'the credential'), 'the credential');
    const { fields, complete } = bound.bundle;
    const disclosed = (pointer) => fields.some((f) => f.pointer === pointer);
    let type;
    let expected;
    if (!disclosed('/regime') && disclosed('/@context/0')) {
      // A credential registered as plain JSON: the payload is the registered body itself.
      if (!complete) fail('the log binding does not disclose the whole registered credential');
      expected = TL.mapping.assemble(fields.map((f) => ({ pointer: f.pointer, value: f.value })));
      expected.delete(ENVELOPE_MEMBER);
      const types = expected.get('type');
      type = (Array.isArray(types) && Object.values(TL.mapping.TYPE_OF_REGIME).find((t) => t === types[1])) || 'VerifiableCredential';
    } else {
      type = registeredType(bound.bundle);
      expected = TL.mapping.assemble(TL.mapping.leaves(type, TL.mapping.disclosedSource(fields, complete), jws.did, bound.bundle.certId));
    }
    if (!TL.mapping.same(credential, expected)) {
      fail(`the credential is not the ${type} of the certificate registered at log index ${bound.bundle.registrationIndex} (its content differs from what the log binding proves)`);
    }
    const claims = flatten(credential, '', []).map(([p, v]) => [p, TL.json.display(v)]);
    return {
      summary: `VC-JOSE credential: the ${type} of certificate ${bound.bundle.certId}, signed by ${bound.bundle.registrant}'s enrolled key, registered at log entry ${bound.bundle.registrationIndex}`,
      facts: [['credential type', type], ...bindingFacts(jws.did, bound), ...claims],
    };
  }

  /** Decodes the disclosures `[salt, name, value]`; a repeated one is refused. */
  async function decodeDisclosures(parts) {
    const seen = new Set();
    const out = [];
    for (let i = 0; i < parts.length; i++) {
      const what = `disclosure ${i + 1}`;
      const value = parseJson(fromUtf8(TL.jose.fromB64url(parts[i], what), what), what);
      if (!Array.isArray(value) || value.length !== 3) fail(`${what} is not [salt, name, value] (array element disclosures are not used)`);
      const [salt, name, claim] = value;
      if (typeof salt !== 'string') fail(`${what}: the salt is not a string`);
      if (typeof name !== 'string') fail(`${what}: the claim name is not a string`);
      if (['_sd', '...', '_sd_alg'].includes(name)) fail(`${what}: the claim name "${name}" is reserved (RFC 9901 §7.1)`);
      const digest = TL.jose.toB64url(await sha256(utf8(parts[i])));
      if (seen.has(digest)) fail(`${what} is a repeat of an earlier one: refused`);
      seen.add(digest);
      out.push({ digest, name, value: claim, used: false });
    }
    return out;
  }

  /** Replaces each referenced digest by its disclosed member (RFC 9901 §7.1), recursively. */
  function reveal(value, disclosures, path, depth) {
    if (depth > MAX_DEPTH) fail('the SD-JWT claims are nested too deeply');
    if (Array.isArray(value)) return value.map((v, i) => reveal(v, disclosures, `${path}/${i}`, depth + 1));
    if (!(value instanceof Map)) return value;
    const out = new Map();
    for (const [name, member] of value) {
      if (name !== '_sd') out.set(name, reveal(member, disclosures, `${path}/${token(name)}`, depth + 1));
    }
    if (!value.has('_sd')) return out;
    const listed = new Set();
    for (const d of list(value.get('_sd'), `${path || 'the payload'}: _sd`)) {
      if (typeof d !== 'string') fail(`${path || 'the payload'}: an _sd digest is not a string`);
      if (listed.has(d)) fail(`the digest ${d} appears twice in the signed payload`);
      listed.add(d);
      const i = disclosures.findIndex((x) => x.digest === d);
      if (i < 0) continue; // not disclosed, or a decoy
      const disclosure = disclosures[i];
      if (disclosure.used) fail(`disclosure ${i + 1} is referenced twice: refused`);
      disclosure.used = true;
      if (out.has(disclosure.name)) fail(`disclosure ${i + 1} repeats the claim "${disclosure.name}" already in the payload`);
      out.set(disclosure.name, reveal(disclosure.value, disclosures, `${path}/${token(disclosure.name)}`, depth + 1));
    }
    return out;
  }

  /** An SD-JWT VC presentation without key binding (docs/interop.md "SD-JWT VC"). */
  async function verifySdJwt(text, trust) {
    const presentation = text.trim();
    if (presentation.length > MAX_PRESENTATION) fail(`the presentation is longer than ${MAX_PRESENTATION} bytes`);
    const parts = presentation.split('~');
    if (parts.length < 2) fail("not an SD-JWT (no '~' separator)");
    if (parts.pop() !== '') fail('the presentation ends in a key binding JWT, which tradeledger presentations do not use');
    if (parts.length > MAX_DISCLOSURES + 1) fail(`more than ${MAX_DISCLOSURES} disclosures`);
    const jws = await TL.jose.verifyCompact(parts.shift(), SD_TYP, "the SD-JWT's issuer-signed JWT");
    const payload = parseJson(fromUtf8(jws.payload, 'the SD-JWT payload'), 'the SD-JWT payload');
    if (!(payload instanceof Map)) fail('the SD-JWT payload is not a JSON object');
    if (payload.get('iss') !== jws.did) fail('iss is not the did:jwk of the signing key');
    if (payload.get('_sd_alg') !== 'sha-256') fail('_sd_alg must be "sha-256"');
    const disclosures = await decodeDisclosures(parts);
    const claims = reveal(payload, disclosures, '', 0);
    const unused = disclosures.findIndex((d) => !d.used);
    if (unused >= 0) fail(`disclosure ${unused + 1} is not referenced by the signed payload (RFC 9901 §7.1): refused`);
    for (const member of JWT_MEMBERS) claims.delete(member);
    const bound = await verifyBinding(jws.header, jws.key, trust);
    const type = registeredType(bound.bundle);
    const vct = `https://w3id.org/traceability#${type}`;
    if (payload.get('vct') !== vct) fail(`vct is not ${vct} (the type of the registered certificate)`);
    const { fields, complete, certId } = bound.bundle;
    const expected = new Map(TL.mapping.leaves(type, TL.mapping.disclosedSource(fields, complete), jws.did, certId).map((l) => [l.pointer, l]));
    const constants = new Map(TL.mapping.leaves(type, TL.mapping.wildcard, jws.did, certId)
      .filter((l) => l.sources.length === 0).map((l) => [pattern(l.pointer), l.value]));
    const shown = [];
    for (const [pointer, value] of flatten(claims, '', [])) {
      const leaf = expected.get(pointer);
      if (!leaf) {
        // The constant `type` of an array element none of whose claims is disclosed must still be the mapping's.
        if (!constants.has(pattern(pointer)) || !TL.mapping.same(constants.get(pattern(pointer)), value)) {
          fail(`claim ${pointer} is not backed by the certificate fields the log binding discloses`);
        }
        continue;
      }
      if (!TL.mapping.same(leaf.value, value)) fail(`claim ${pointer} differs from what the registered certificate says`);
      if (leaf.sources.length > 0) shown.push([pointer, value]);
    }
    return {
      summary: `SD-JWT presentation: ${shown.length} disclosed claim${shown.length === 1 ? '' : 's'} of the ${type} of certificate ${bound.bundle.certId}, signed by ${bound.bundle.registrant}'s enrolled key`,
      facts: [['vct', vct], ...bindingFacts(jws.did, bound), ['disclosures', `${disclosures.length}, each referenced exactly once by the signed payload`],
        ...shown.map(([p, v]) => [p, TL.json.display(v)])],
    };
  }

  TL.credential = { verifyVcJose, verifySdJwt, flatten };
})((window.TL = window.TL || {}));
