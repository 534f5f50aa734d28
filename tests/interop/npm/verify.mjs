// Independent verification of what tradeledger exports, with libraries nobody here wrote (tests/e2e/credentials.rs
// runs it): npm `jose` verifies VC-JOSE tokens with the key of their did:jwk `kid`, `ajv` validates the payload
// against the traceability vocabulary's JSON schema (read with `js-yaml`), and `@sd-jwt/sd-jwt-vc` verifies
// SD-JWT VC presentations. Prints one JSON line {"ok":true,...} on success; any failure exits non-zero with
// the library's error on stderr.
//
//   node verify.mjs vc-jose TOKEN_FILE SCHEMA.yml
//   node verify.mjs sd-jwt PRESENTATION_FILE
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createHash, createPublicKey, verify as edVerify } from 'node:crypto';
import * as jose from 'jose';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import yaml from 'js-yaml';

// did:jwk (https://github.com/quartzjer/did-jwk): the method-specific id is the base64url of the JWK.
function didJwk(kid) {
  if (typeof kid !== 'string' || !kid.startsWith('did:jwk:') || !kid.endsWith('#0')) {
    throw new Error(`kid is not a did:jwk verification method: ${kid}`);
  }
  const did = kid.slice(0, -2);
  const jwk = JSON.parse(Buffer.from(did.slice('did:jwk:'.length), 'base64url').toString('utf8'));
  return { did, jwk };
}

// The vocabulary's schemas with the files they `$ref` (tests/interop/traceability/, laid out as upstream), each
// under its file URL so that ajv resolves the relative references. The one file not copied
// (common/Organization.yml, used only by TradeLineItem.shipToParty, which no export writes) stays open.
function vocabulary(ajv, schemaFile) {
  const root = dirname(dirname(schemaFile));
  for (const sub of readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory())) {
    for (const name of readdirSync(join(root, sub.name)).filter((n) => n.endsWith('.yml'))) {
      const file = join(root, sub.name, name);
      const id = pathToFileURL(file).href;
      const schema = openMissingRefs(yaml.load(readFileSync(file, 'utf8')), id);
      ajv.addSchema({ ...schema, $id: id });
    }
  }
  return ajv.getSchema(pathToFileURL(schemaFile).href);
}

function openMissingRefs(node, base) {
  if (Array.isArray(node)) return node.map((n) => openMissingRefs(n, base));
  if (node === null || typeof node !== 'object') return node;
  if (typeof node.$ref === 'string' && !node.$ref.startsWith('#') && !existsSync(fileURLToPath(new URL(node.$ref, base)))) {
    return {};
  }
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, openMissingRefs(v, base)]));
}

async function vcJose(file, schemaFile) {
  const token = readFileSync(file, 'utf8').trim();
  const { did, jwk } = didJwk(jose.decodeProtectedHeader(token).kid);
  const key = await jose.importJWK(jwk, 'EdDSA');
  const { payload, protectedHeader } = await jose.jwtVerify(token, key, { typ: 'vc+jwt', algorithms: ['EdDSA'] });
  if (payload.issuer?.id !== did) throw new Error(`issuer.id ${payload.issuer?.id} is not the kid's DID ${did}`);
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const validate = vocabulary(ajv, schemaFile);
  if (!validate(payload)) {
    throw new Error(`payload invalid under ${schemaFile}: ${ajv.errorsText(validate.errors)}`);
  }
  return { typ: protectedHeader.typ, issuer: did, type: payload.type, credential: payload };
}

async function sdJwt(file) {
  const presentation = readFileSync(file, 'utf8').trim();
  const { did, jwk } = didJwk(jose.decodeProtectedHeader(presentation.split('~')[0]).kid);
  const publicKey = createPublicKey({ key: jwk, format: 'jwk' });
  const sdjwt = new SDJwtVcInstance({
    hashAlg: 'sha-256',
    hasher: (data, alg) => {
      if (alg !== 'sha-256') throw new Error(`unexpected hash ${alg}`);
      return new Uint8Array(createHash('sha256').update(typeof data === 'string' ? data : Buffer.from(data)).digest());
    },
    verifier: (data, signature) => edVerify(null, Buffer.from(data), publicKey, Buffer.from(signature, 'base64url')),
  });
  const { payload } = await sdjwt.verify(presentation);
  if (payload.iss !== did) throw new Error(`iss ${payload.iss} is not the kid's DID ${did}`);
  return { issuer: did, vct: payload.vct, claims: payload };
}

const [mode, file, schema] = process.argv.slice(2);
try {
  const result = mode === 'vc-jose' ? await vcJose(file, schema) : mode === 'sd-jwt' ? await sdJwt(file) : null;
  if (result === null) throw new Error(`unknown mode ${mode}`);
  console.log(JSON.stringify({ ok: true, ...result }));
} catch (e) {
  console.error(`refused: ${e?.message ?? e}`);
  process.exit(1);
}
