// The page against credentials exported by a live server (tests/e2e/browser.rs,
// the_page_verifies_vc_jose_credentials_and_sd_jwt_presentations): a real VC-JOSE token and SD-JWT
// presentation verify; one changed byte, an altered or repeated disclosure, and a token re-signed by a key the
// log did not enroll for the registrant are refused with their reasons. Screenshots of each state.
import { readFileSync } from 'node:fs';
import { createHash, createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { join } from 'node:path';
import assert from 'node:assert/strict';

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
const text = (segment) => Buffer.from(segment, 'base64url').toString('utf8');

/** One base64url character of `segment` at `at` changed to another of the alphabet. */
function flip(segment, at) {
  return segment.slice(0, at) + (segment[at] === 'A' ? 'B' : 'A') + segment.slice(at + 1);
}

/** The JWS `jwt` re-signed by a fresh Ed25519 key, its did:jwk replacing the original one in kid and payload. */
function resignedByAnotherKey(jwt) {
  const [header, payload] = jwt.split('.');
  const oldDid = JSON.parse(text(header)).kid.replace(/#0$/, '');
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const { x } = publicKey.export({ format: 'jwk' });
  const did = `did:jwk:${b64url(JSON.stringify({ crv: 'Ed25519', kty: 'OKP', x }))}`;
  // Text replacement keeps every other byte of the header (the log binding) as the server wrote it.
  const input = `${b64url(text(header).replaceAll(oldDid, did))}.${b64url(text(payload).replaceAll(oldDid, did))}`;
  return `${input}.${b64url(sign(null, Buffer.from(input), privateKey))}`;
}

/** The JWS `jwt` with its payload text edited by `edit`, re-signed by `key` (the same kid). */
function resigned(jwt, key, edit) {
  const [header, payload] = jwt.split('.');
  const input = `${header}.${b64url(edit(text(payload)))}`;
  return `${input}.${b64url(sign(null, Buffer.from(input), key))}`;
}

/** The registrant's Ed25519 signing key, from its key file (`signing <hex seed>`; RFC 8410 PKCS#8 wrapping). */
function signingKey(path) {
  const seed = /^signing ([0-9a-f]{64})$/m.exec(readFileSync(path, 'utf8'))[1];
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seed, 'hex')]);
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

export async function credentials(context, config, verdict, problems) {
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && problems.push(`console error: ${m.text()}`));
  const shot = (name) => page.screenshot({ path: join(config.shots, `${name}.png`), fullPage: true });
  const paste = async (input) => {
    await page.fill('#paste', input);
    await page.click('#verify-paste');
  };
  const facts = () => page.$$eval('#facts dt', (dts) => dts.map((dt) => [dt.textContent, dt.nextElementSibling.textContent]));
  const step = (name) => console.log(`page.mjs: ${name}`);

  await page.goto(`${config.urlA}/?check=no`);
  await page.waitForSelector('body[data-ready=true]');
  await page.fill('#vkey', config.vkey);
  await page.click('#pin-pasted');
  await verdict(page, '#trust-verdict', 'ok', /pinned/);

  step('a real VC-JOSE credential verifies');
  const token = readFileSync(config.token, 'utf8').trim();
  await page.setInputFiles('#file', config.token);
  await verdict(page, '#file-verdict', 'ok',
    new RegExp(`VC-JOSE credential: the USMCACertificationOfOrigin of certificate ${config.certId}, signed by ${config.registrant}'s enrolled key, registered at log entry \\d+`));
  let shown = await facts();
  const did = JSON.parse(text(token.split('.')[0])).kid.replace(/#0$/, '');
  assert.ok(shown.some(([k, v]) => k === 'issuer' && v.startsWith(did) && v.includes(config.registrant)), JSON.stringify(shown));
  assert.ok(shown.some(([k, v]) => k === 'certificate' && v === config.certId));
  assert.ok(shown.some(([k, v]) => k === config.claim && v === JSON.stringify(config.claimed)), JSON.stringify(shown));
  await shot('vc-jose');

  step('a VC-JOSE credential with one changed byte fails');
  const [header, payload, signature] = token.split('.');
  await paste(`${header}.${flip(payload, Math.floor(payload.length / 2))}.${signature}`);
  await verdict(page, '#file-verdict', 'fail', /the VC-JOSE token: the signature does not verify with the key of its did:jwk kid/);
  await shot('vc-jose-tampered');
  await paste(`${flip(header, 40)}.${payload}.${signature}`);
  await verdict(page, '#file-verdict', 'fail', /the VC-JOSE token: /);
  await paste(`${header}.${payload}.${signature}A`);
  await verdict(page, '#file-verdict', 'fail', /the VC-JOSE token: the signature is not 64 bytes/);

  step('a VC-JOSE credential signed by a key not enrolled for the registrant fails');
  await paste(resignedByAnotherKey(token));
  await verdict(page, '#file-verdict', 'fail', new RegExp(`the issuer's key is not the key enrolled on the log for ${config.registrant}`));
  await shot('vc-jose-foreign-key');

  step('a VC-JOSE credential changed and re-signed by the registrant itself fails: not what was registered');
  const registrant = signingKey(config.registrantKey);
  const claimed = JSON.stringify(config.claimed);
  await paste(resigned(token, registrant, (t) => t.replace(claimed, '"9999.99"')));
  await verdict(page, '#file-verdict', 'fail', /the credential is not the USMCACertificationOfOrigin of the certificate registered at log index \d+ \(its content differs from what the log binding proves\)/);

  step('a real SD-JWT presentation verifies, disclosing exactly the chosen claims');
  const presentation = readFileSync(config.presentation, 'utf8').trim();
  await page.setInputFiles('#file', config.presentation);
  await verdict(page, '#file-verdict', 'ok',
    new RegExp(`SD-JWT presentation: 2 disclosed claims of the USMCACertificationOfOrigin of certificate ${config.certId}, signed by ${config.registrant}'s enrolled key`));
  shown = await facts();
  assert.ok(shown.some(([k, v]) => k === config.claim && v === JSON.stringify(config.claimed)), JSON.stringify(shown));
  assert.ok(shown.some(([k]) => k === '/issuer/employee/lastName'), JSON.stringify(shown));
  assert.ok(!shown.some(([k]) => k === config.hidden), `${config.hidden} must stay hidden`);
  await shot('sd-jwt');

  step('an SD-JWT presentation with one changed byte fails');
  const [jwt, ...disclosures] = presentation.split('~');
  const [jh, jp, js] = jwt.split('.');
  await paste([`${jh}.${flip(jp, Math.floor(jp.length / 2))}.${js}`, ...disclosures].join('~'));
  await verdict(page, '#file-verdict', 'fail', /issuer-signed JWT: the signature does not verify/);
  await shot('sd-jwt-tampered');

  step('an altered, repeated or foreign-signed disclosure fails (the npm and PyPI libraries drop it silently)');
  const at = disclosures.findIndex((d) => d && text(d).includes(JSON.stringify(config.claimed)));
  assert.ok(at >= 0, 'the presentation discloses the claimed value');
  const altered = [...disclosures];
  altered[at] = b64url(text(disclosures[at]).replace(JSON.stringify(config.claimed), '"9999.99"'));
  await paste([jwt, ...altered].join('~'));
  await verdict(page, '#file-verdict', 'fail', new RegExp(`disclosure ${at + 1} is not referenced by the signed payload`));
  assert.doesNotMatch(await page.textContent('#facts'), /9999\.99/);
  await shot('sd-jwt-altered');
  const repeated = [...disclosures];
  repeated.splice(at, 0, disclosures[at]);
  await paste([jwt, ...repeated].join('~'));
  await verdict(page, '#file-verdict', 'fail', /is a repeat of an earlier one/);
  await paste([resignedByAnotherKey(jwt), ...disclosures].join('~'));
  await verdict(page, '#file-verdict', 'fail', new RegExp(`the issuer's key is not the key enrolled on the log for ${config.registrant}`));
  await paste(`${presentation}${jwt}`);
  await verdict(page, '#file-verdict', 'fail', /key binding JWT/);

  step('one changed character anywhere in either is refused with a reason, never an unexpected error');
  for (const [name, input] of [['token', token], ['presentation', presentation]]) {
    for (let i = 1; i <= 40; i++) {
      const at = Math.floor((i * input.length) / 41);
      await paste(flip(input, at));
      const el = await page.waitForSelector('#file-verdict[data-verdict]');
      const said = await el.textContent();
      assert.equal(await el.getAttribute('data-verdict'), 'fail', `${name} changed at ${at}: ${said}`);
      assert.doesNotMatch(said, /unexpected error/, `${name} changed at ${at}: ${said}`);
    }
  }

  step('CAFTA-DR and NAFTA-434 certificates: their CertificationOfOrigin credential and presentation verify');
  for (const other of config.others) {
    await page.setInputFiles('#file', other.token);
    await verdict(page, '#file-verdict', 'ok', new RegExp(`VC-JOSE credential: the CertificationOfOrigin of certificate ${other.certId}`));
    await page.setInputFiles('#file', other.presentation);
    await verdict(page, '#file-verdict', 'ok', new RegExp(`SD-JWT presentation: \\d+ disclosed claims? of the CertificationOfOrigin of certificate ${other.certId}`));
    const disclosed = (await facts()).map(([k]) => k);
    for (const field of other.fields) {
      assert.ok(disclosed.some((k) => k === field || k.startsWith(`${field}/`)), `${other.example}: ${field} in ${disclosed}`);
    }
  }

  step('a credential registered as plain JSON exports as itself and verifies; changed and re-signed, it fails');
  await page.setInputFiles('#file', config.plain.token);
  await verdict(page, '#file-verdict', 'ok', new RegExp(`VC-JOSE credential: the USMCACertificationOfOrigin of certificate ${config.plain.certId}`));
  assert.ok((await facts()).some(([k, v]) => k === '/id' && v === JSON.stringify(config.plain.id)));
  const plainToken = readFileSync(config.plain.token, 'utf8').trim();
  await paste(resigned(plainToken, registrant, (t) => t.replace(config.plain.id, 'urn:uuid:00000000-0000-4000-8000-000000000000')));
  await verdict(page, '#file-verdict', 'fail', /its content differs from what the log binding proves/);

  step('an SD-JWT whose disclosure the registrant altered and re-referenced (re-signed) fails: not what was registered');
  const digest = (d) => createHash('sha256').update(d).digest('base64url');
  // The claim's digest sits in its parent's disclosure (goods/0 in goods in credentialSubject): each parent on
  // the way up is re-encoded with its child's new digest, and the payload is re-signed.
  const swapped = [...disclosures];
  let payloadEdit = (t) => t;
  for (let i = at, replacement = altered[at]; ;) {
    const [before, after] = [digest(swapped[i]), digest(replacement)];
    swapped[i] = replacement;
    const parent = swapped.findIndex((d) => d && text(d).includes(before));
    if (parent < 0) {
      payloadEdit = (t) => t.replace(before, after);
      break;
    }
    [i, replacement] = [parent, b64url(text(swapped[parent]).replace(before, after))];
  }
  await paste([resigned(jwt, registrant, payloadEdit), ...swapped].join('~'));
  await verdict(page, '#file-verdict', 'fail', new RegExp(`claim ${config.claim} differs from what the registered certificate says`));
}
