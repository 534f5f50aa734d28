// What can be dropped or pasted, and how each is verified. Each format is { name, recognize(text),
// verify(text, trust) -> { summary, facts: [[label, value]] } }; verify throws a VerifyError with the reason.
//
// Extension point: VC-JOSE credentials and SD-JWT presentations (issue 9, built on another branch) register
// here as further formats; until then such an input is recognised and refused as not yet supported, never
// shown as verified.
'use strict';
(function (TL) {
  const time = (ms) => new Date(ms).toISOString();
  const formats = [];

  formats.push({
    name: 'receipt (C2SP tlog-proof)',
    recognize: (text) => text.startsWith(`${TL.receipt.HEADER}\n`),
    async verify(text, trust) {
      const r = await TL.receipt.verifyReceipt(text, trust);
      const facts = [
        ['entry', `${r.entry.kind} at index ${r.index}`],
        ['certificate', r.entry.cert || '-'],
        ['claimed signer', `${r.entry.signer} (a receipt proves inclusion; the signer's enrollment is not in it)`],
        ['entry time', time(r.entry.time)],
        ['checkpoint', `size ${r.checkpoint.size}, signed by ${trust.log.name}${r.checkpoint.witnesses.length ? `, cosigned by ${r.checkpoint.witnesses.join(', ')}` : ''}`],
      ];
      if (r.newer) facts.push(['consistent with', `checkpoint of size ${r.newer.size}`]);
      return { summary: `receipt: the ${r.entry.kind} entry is at index ${r.index} of the log`, facts };
    },
  });

  formats.push({
    name: 'disclosure bundle',
    recognize: (text) => text.trimStart().startsWith('{') && text.includes(TL.bundle.FORMAT),
    async verify(text, trust) {
      const b = await TL.bundle.verifyBundle(text, trust);
      const facts = [
        ['certificate', b.certId],
        ['registrant', b.registrant],
        ['registered', `${time(b.registeredAt)}, entry ${b.registrationIndex}`],
        ['checkpoint', `size ${b.checkpoint.size}`],
        ...b.fields.map((f) => [f.pointer, TL.json.display(f.value)]),
      ];
      return { summary: `disclosure: ${b.fields.length === 1 ? 'one field' : 'these fields'} of certificate ${b.certId}, as registered by ${b.registrant}`, facts };
    },
  });

  formats.push({
    name: 'VC-JOSE credential or SD-JWT presentation',
    recognize: (text) => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*(~[A-Za-z0-9_.~-]*)?\s*$/.test(text.trim()),
    async verify() {
      TL.bytes.fail('VC-JOSE credentials and SD-JWT presentations are not supported by this page yet');
    },
  });

  function recognize(text) {
    return formats.find((f) => f.recognize(text)) || null;
  }

  TL.formats = { formats, recognize };
})((window.TL = window.TL || {}));
