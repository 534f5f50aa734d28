// Disclosure bundles (docs/cli.md "Disclosure bundle", format tradeledger-disclosure-bundle/v1): the signed
// checkpoint, three entries with inclusion proofs (operator, registrant, registration) and the disclosure.
// Verified with the pinned log key alone: log key -> operator -> registrant -> registration -> fields.
'use strict';
(function (TL) {
  const { fail, fromB64 } = TL.bytes;
  const { members, str, uint, list } = TL.json;
  const FORMAT = 'tradeledger-disclosure-bundle/v1';

  /** One bundled entry proven included in `checkpoint`; returns the decoded entry with its index. */
  async function included(value, name, checkpoint) {
    const b = members(value, `bundle ${name}`, ['index', 'entry', 'proof']);
    const index = uint(b.index, `bundle ${name} index`);
    const bytes = fromB64(str(b.entry, `bundle ${name} entry`), `bundle ${name} entry`);
    const proof = list(b.proof, `bundle ${name} proof`).map((h, i) => fromB64(str(h, `${name} proof ${i}`), `bundle ${name} proof ${i}`));
    try {
      await TL.merkle.verifyInclusion(index, checkpoint.size, await TL.merkle.leafHash(bytes), proof, checkpoint.root);
    } catch (e) {
      fail(`the ${name} entry (index ${index}) is not in the signed checkpoint: ${e.message}`);
    }
    const entry = TL.entry.decodeEntry(bytes);
    return { ...entry, index };
  }

  /** Verifies a bundle's text under `trust`; returns what it proved, or throws a VerifyError with the reason. */
  async function verifyBundle(text, trust) {
    const b = members(TL.json.parseJson(text, 'bundle'), 'bundle', ['format', 'checkpoint', 'operator', 'registrant', 'registration', 'disclosure']);
    if (b.format !== FORMAT) fail(`bundle: format is not ${FORMAT}`);
    const checkpoint = await TL.note.verifyCheckpoint(str(b.checkpoint, 'bundle checkpoint'), trust);

    const operator = await included(b.operator, 'operator', checkpoint);
    if (operator.index !== 0n || operator.kind !== 'enrollment' || operator.role !== 'operator' || operator.signer !== TL.entry.LOG_SIGNER) {
      fail('the operator entry is not entry 0, the operator enrollment signed by the log');
    }
    if (!(await TL.entry.signedBy(operator, trust.log.key))) fail('entry 0 is not signed by the pinned log key');

    const registrant = await included(b.registrant, 'registrant', checkpoint);
    if (registrant.kind !== 'enrollment' && registrant.kind !== 'rotation') fail('the registrant entry is not an enrollment');
    if (registrant.kind === 'rotation' && !(await TL.entry.consentHolds(registrant))) {
      fail(`the rotation of ${registrant.party} lacks a valid consent by its previous key`);
    }
    if (registrant.signer !== operator.party || !(await TL.entry.signedBy(registrant, operator.signingKey))) {
      fail(`the enrollment of ${registrant.party} is not signed by the operator ${operator.party}`);
    }

    const registration = await included(b.registration, 'registration', checkpoint);
    if (registration.kind !== 'registration') fail('the registration entry is not a registration');
    if (registration.signer !== registrant.party || registration.registrant !== registrant.party) {
      fail(`the registration is not made and signed by the enrolled registrant ${registrant.party}`);
    }
    if (!(await TL.entry.signedBy(registration, registrant.signingKey))) {
      fail(`the registration's signature does not verify with ${registrant.party}'s enrolled key`);
    }

    const disclosed = await TL.disclosure.verifyDisclosure(b.disclosure, registration.commitment);
    if (disclosed.certId !== registration.cert) fail('the disclosure is for another certificate than the registration');
    return {
      certId: registration.cert,
      registrant: registrant.party,
      registrationIndex: registration.index,
      registeredAt: registration.time,
      checkpoint,
      fields: disclosed.fields,
    };
  }

  TL.bundle = { verifyBundle, FORMAT };
})((window.TL = window.TL || {}));
