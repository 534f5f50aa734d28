// Native certificate → credential of the CCG traceability vocabulary, written from docs/interop.md "Mapping
// native certificates to credentials" (USMCA → USMCACertificationOfOrigin, CAFTA-DR and NAFTA-434 →
// CertificationOfOrigin). It yields leaves { pointer, value, sources } rather than a document, so the page can
// recompute from the native fields a log binding discloses exactly the claims those fields determine.
'use strict';
(function (TL) {
  const CONTEXTS = ['https://www.w3.org/ns/credentials/v2', 'https://w3id.org/traceability/v1'];
  const TYPE_OF_REGIME = { USMCA: 'USMCACertificationOfOrigin', 'CAFTA-DR': 'CertificationOfOrigin', 'NAFTA-434': 'CertificationOfOrigin' };
  const PRESENT = 'present';
  const ABSENT = 'absent';
  const UNKNOWN = 'unknown';

  /**
   * The native fields a verified disclosure reveals: `fields` [{ pointer, value }], `complete` when it disclosed
   * every leaf of the committed body (only then is a field not disclosed known to be absent).
   */
  function disclosedSource(fields, complete) {
    const byPointer = new Map(fields.map((f) => [f.pointer, f.value]));
    const below = (pointer) => fields.some((f) => f.pointer.startsWith(`${pointer}/`));
    return {
      get(pointer) {
        if (byPointer.has(pointer)) {
          const value = byPointer.get(pointer);
          return value === null ? { state: ABSENT } : { state: PRESENT, value };
        }
        return complete && !below(pointer) ? { state: ABSENT } : { state: UNKNOWN };
      },
      indices(pointer) {
        const found = new Set();
        for (const f of fields) {
          if (!f.pointer.startsWith(`${pointer}/`)) continue;
          const segment = f.pointer.slice(pointer.length + 1).split('/')[0];
          if (/^(?:0|[1-9][0-9]*)$/.test(segment)) found.add(Number(segment));
        }
        return [...found].sort((a, b) => a - b);
      },
    };
  }

  /** A source with every field (an empty string) and one element per array: yields every constant claim. */
  const wildcard = { get: () => ({ state: PRESENT, value: '' }), indices: () => [0] };

  function mapper(src) {
    const leaves = [];
    const m = {
      leaves,
      src,
      constant: (pointer, value) => leaves.push({ pointer, value, sources: [] }),
      text(native) {
        const got = src.get(native);
        if (got.state !== PRESENT) return null;
        if (typeof got.value === 'string') return got.value;
        if (typeof got.value === 'boolean') return String(got.value);
        return null;
      },
      derive(pointer, native, f) {
        const text = m.text(native);
        const value = text === null ? null : f(text);
        if (value !== null && value !== undefined) leaves.push({ pointer, value, sources: [native] });
      },
      copy: (pointer, native) => m.derive(pointer, native, (s) => s),
      alsoFrom(pointer, also) {
        const last = leaves[leaves.length - 1];
        if (last && last.pointer === pointer) last.sources.push(also);
      },
      decidedBy(since, decision) {
        for (const leaf of leaves.slice(since)) {
          if (leaf.sources.length > 0 && !leaf.sources.includes(decision)) leaf.sources.push(decision);
        }
      },
      absent(native) {
        const { state } = src.get(native);
        return state === UNKNOWN ? null : state === ABSENT;
      },
      organization(at, native) {
        m.constant(`${at}/type`, ['Organization']);
        m.copy(`${at}/name`, `${native}/name`);
        m.copy(`${at}/email`, `${native}/email`);
        m.copy(`${at}/phoneNumber`, `${native}/phone`);
        m.copy(`${at}/taxId`, `${native}/tax_id/number`);
        m.place(`${at}/location`, `${native}/address`);
      },
      place(at, native) {
        if (m.absent(`${native}/street`) === true && m.absent(`${native}/country`) === true) return;
        m.constant(`${at}/type`, ['Place']);
        const address = `${at}/address`;
        m.constant(`${address}/type`, ['PostalAddress']);
        for (const [to, from] of [['streetAddress', 'street'], ['addressLocality', 'city'], ['addressRegion', 'region'],
          ['addressCountry', 'country'], ['postalCode', 'postal_code']]) {
          m.copy(`${address}/${to}`, `${native}/${from}`);
        }
      },
    };
    return m;
  }

  /** validFrom/validUntil: the blanket period, else the signature date (+ 4 years for USMCA, Art. 5.2). */
  function validity(m, type) {
    const startOfDay = (d) => `${d}T00:00:00Z`;
    const endOfDay = (d) => `${d}T23:59:59Z`;
    const absent = m.absent('/blanket_period/from');
    if (absent === false) {
      m.derive('/validFrom', '/blanket_period/from', startOfDay);
      m.derive('/validUntil', '/blanket_period/to', endOfDay);
      m.alsoFrom('/validUntil', '/blanket_period/from');
    } else if (absent === true) {
      m.derive('/validFrom', '/signature/date', startOfDay);
      if (type === 'USMCACertificationOfOrigin') {
        m.derive('/validUntil', '/signature/date', (d) => {
          if (d.length < 4 || !/^[+-]?[0-9]+$/.test(d.slice(0, 4))) return null;
          return endOfDay(`${Number(d.slice(0, 4)) + 4}${d.slice(4).replace('-02-29', '-02-28')}`);
        });
      }
    }
  }

  function partyOrNote(m, at, native, note) {
    const name = `${native}/name`;
    const absent = m.absent(name);
    if (absent === false) {
      const since = m.leaves.length;
      m.organization(at, native);
      m.decidedBy(since, name);
    } else if (absent === true && m.absent(native) === true) {
      m.constant(`${at}/type`, ['Organization']);
      m.constant(`${at}/name`, note);
    }
  }

  function usmca(m) {
    m.constant('/issuer/employee/type', ['Person']);
    const split = (n) => {
      const at = n.indexOf(' ');
      return at < 0 ? [n, n] : [n.slice(0, at), n.slice(at + 1)];
    };
    m.derive('/issuer/employee/firstName', '/certifier/name', (n) => split(n)[0]);
    m.derive('/issuer/employee/lastName', '/certifier/name', (n) => split(n)[1]);
    m.copy('/issuer/employee/jobTitle', '/certifier/title');
    m.copy('/issuer/employee/email', '/certifier/email');
    m.copy('/issuer/employee/phoneNumber', '/certifier/phone');
    m.place('/issuer/location', '/certifier/address');
    const subject = '/credentialSubject';
    m.constant(`${subject}/type`, ['USMCAClaims']);
    partyOrNote(m, `${subject}/exporterDetails`, '/exporter', 'Not given on the certification');
    const producer = m.src.get('/producer');
    if (producer.state === PRESENT && typeof producer.value === 'string') {
      m.constant(`${subject}/producerDetails/type`, ['Organization']);
      m.copy(`${subject}/producerDetails/name`, '/producer');
      m.derive(`${subject}/variousProducers`, '/producer', (p) => p === 'VARIOUS');
    } else if (m.src.indices('/producer').length > 0) {
      m.organization(`${subject}/producerDetails`, '/producer/0');
      m.derive(`${subject}/variousProducers`, '/producer/0/name', () => true);
    } else {
      partyOrNote(m, `${subject}/producerDetails`, '/producer', 'Same as the certifier');
    }
    if (m.absent('/importer/name') === false) {
      const since = m.leaves.length;
      m.organization(`${subject}/importerDetails/0`, '/importer');
      m.decidedBy(since, '/importer/name');
    }
    for (const i of m.src.indices('/goods')) {
      const good = `${subject}/goods/${i}`;
      const native = `/goods/${i}`;
      m.constant(`${good}/type`, ['USMCAProduct']);
      m.copy(`${good}/description`, `${native}/description`);
      m.copy(`${good}/commodityCode`, `${native}/hs_code`);
      m.derive(`${good}/commodityCodeType`, `${native}/hs_code`, (code) => ((code.match(/[0-9]/g) || []).length > 6 ? 'HTS' : 'HS'));
      m.copy(`${good}/originCriterion`, `${native}/origin_criterion`);
      m.copy(`${good}/countryOfOrigin`, `${native}/country_of_origin`);
    }
    m.copy(`${subject}/invoiceNumber`, '/goods/0/invoice_number');
  }

  function generic(m) {
    const subject = '/credentialSubject';
    m.copy('/issuer/name', '/signature/company');
    m.copy(`${subject}/manufacturingCountry`, '/goods/0/country_of_origin');
    m.copy(`${subject}/dateOfExport`, '/signature/date');
    const agreement = m.text('/regime');
    for (const i of m.src.indices('/goods')) {
      const item = `${subject}/items/${i}`;
      const native = `/goods/${i}`;
      m.constant(`${item}/type`, ['TradeLineItem']);
      m.copy(`${item}/description`, `${native}/description`);
      m.copy(`${item}/countryOfOrigin`, `${native}/country_of_origin`);
      if (agreement !== null) {
        m.derive(`${item}/freeTradeAgreement`, `${native}/hs_code`, () => agreement);
        m.alsoFrom(`${item}/freeTradeAgreement`, '/regime');
      }
      m.constant(`${item}/product/type`, ['Product']);
      m.constant(`${item}/product/commodity/type`, ['Commodity']);
      m.copy(`${item}/product/commodity/commodityCode`, `${native}/hs_code`);
      m.derive(`${item}/product/commodity/commodityCodeType`, `${native}/hs_code`, () => 'HS');
    }
  }

  /** Every claim `src` determines for a credential of `type`, issued by `issuer` for certificate `certId`. */
  function leaves(type, src, issuer, certId) {
    const m = mapper(src);
    m.constant('/@context', CONTEXTS);
    m.constant('/type', ['VerifiableCredential', type]);
    m.constant('/id', `urn:tradeledger:certificate:${certId}`);
    m.constant('/issuer/type', ['Organization']);
    m.constant('/issuer/id', issuer);
    validity(m, type);
    if (type === 'USMCACertificationOfOrigin') usmca(m);
    else generic(m);
    return m.leaves;
  }

  /** Builds a document from leaves: objects for names, arrays for numeric segments (RFC 6901 unescaped). */
  function assemble(list) {
    const root = new Map();
    for (const leaf of list) {
      const segments = leaf.pointer.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
      let at = root;
      segments.forEach((segment, i) => {
        if (at === null) return;
        const last = i + 1 === segments.length;
        const nextIsIndex = i + 1 < segments.length && /^[0-9]+$/.test(segments[i + 1]);
        const fresh = () => (nextIsIndex ? [] : new Map());
        const set = (value) => (Array.isArray(at) ? (at[index] = value) : at.set(segment, value));
        let index = 0;
        if (Array.isArray(at)) {
          index = /^[0-9]+$/.test(segment) ? Number(segment) : at.length;
          while (at.length <= index) at.push(fresh());
        } else if (at instanceof Map) {
          if (!at.has(segment)) at.set(segment, fresh());
        } else {
          at = null;
          return;
        }
        if (last) set(toJson(leaf.value));
        else at = Array.isArray(at) ? at[index] : at.get(segment);
      });
    }
    return root;
  }

  /** Plain JS values (the mapping's constants) as TL.json values: arrays stay arrays, objects become Maps. */
  function toJson(value) {
    if (Array.isArray(value)) return value.map(toJson);
    if (value !== null && typeof value === 'object' && !(value instanceof Map) && !(value instanceof TL.json.JsonNumber)) {
      return new Map(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
    }
    return value;
  }

  /** Equality of TL.json values; numbers by value, as serde_json compares them. */
  function same(a, b) {
    if (a instanceof TL.json.JsonNumber || b instanceof TL.json.JsonNumber) {
      return a instanceof TL.json.JsonNumber && b instanceof TL.json.JsonNumber && (a.text === b.text || Number(a.text) === Number(b.text));
    }
    if (Array.isArray(a) || Array.isArray(b)) {
      return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]));
    }
    if (a instanceof Map || b instanceof Map) {
      return a instanceof Map && b instanceof Map && a.size === b.size && [...a].every(([k, v]) => b.has(k) && same(v, b.get(k)));
    }
    return a === b;
  }

  TL.mapping = { TYPE_OF_REGIME, disclosedSource, wildcard, leaves, assemble, same };
})((window.TL = window.TL || {}));
