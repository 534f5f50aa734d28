// C2SP tlog-policy: `log`, `witness`, `group` and `quorum` lines, and whether a set of verified witness
// cosignatures meets the quorum.
'use strict';
(function (TL) {
  const { fail, equal } = TL.bytes;

  /** Parses a policy file; errors read "policy line N: reason". Returns { logs, witnesses, groups, quorum }. */
  async function parsePolicy(text) {
    const logs = [];
    const witnesses = [];
    const groups = new Map();
    let quorum;
    const lines = String(text).split('\n');
    for (let i = 0; i < lines.length; i++) {
      const at = (reason) => fail(`policy line ${i + 1}: ${reason}`);
      const line = lines[i].replace(/\r$/, '');
      const words = line.split(/[ \t]+/).filter((w) => w !== '');
      if (words.length === 0 || words[0].startsWith('#')) continue;
      const defined = (name) => name === 'none' || groups.has(name) || witnesses.some((w) => w.name === name);
      const pubTaken = (key) => [...logs, ...witnesses.map((w) => w.key)].some((k) => equal(k.pub, key.pub));
      switch (words[0]) {
        case 'log': {
          if (words.length < 2 || words.length > 3) at('expected: log <vkey> [url]');
          const key = await TL.note.parseVkey(words[1], `policy line ${i + 1}`).catch((e) => at(e.message));
          if (key.type !== 0x01) at('a log key must be an Ed25519 (0x01) key');
          if (pubTaken(key)) at('duplicate key');
          logs.push(key);
          break;
        }
        case 'witness': {
          if (words.length < 3 || words.length > 4) at('expected: witness <name> <vkey> [url]');
          if (defined(words[1])) at(`name ${words[1]} already defined`);
          const key = await TL.note.parseVkey(words[2], `policy line ${i + 1}`).catch((e) => at(e.message));
          if (key.type !== 0x04) at('a witness key must be a cosignature/v1 (0x04) key');
          if (pubTaken(key)) at('duplicate key');
          witnesses.push({ name: words[1], key });
          break;
        }
        case 'group': {
          if (words.length < 4) at('expected: group <name> all|any|<k> <member>...');
          const [, name, threshold, ...members] = words;
          if (defined(name)) at(`name ${name} already defined`);
          for (const m of members) {
            if (m === 'none' || !defined(m)) at(`unknown group member ${m}`);
          }
          if (new Set(members).size !== members.length) at('a member is listed twice');
          let k;
          if (threshold === 'all') k = members.length;
          else if (threshold === 'any') k = 1;
          else if (/^[1-9][0-9]*$/.test(threshold)) k = Number(threshold);
          else at('threshold must be all, any or a number');
          if (k < 1 || k > members.length) at('threshold out of range');
          groups.set(name, { k, members });
          break;
        }
        case 'quorum': {
          if (words.length !== 2) at('expected: quorum <name>');
          if (quorum !== undefined) at('a second quorum line');
          if (!defined(words[1])) at(`unknown quorum ${words[1]}`);
          quorum = words[1];
          break;
        }
        default:
          at(`unknown keyword ${words[0]}`);
      }
    }
    if (quorum === undefined) fail('policy: no quorum line');
    return { text: String(text), logs, witnesses, groups, quorum };
  }

  /** Whether `name` (a witness or group) witnessed, given the verified witness keys. */
  function witnessed(policy, name, verified) {
    if (name === 'none') return true;
    const group = policy.groups.get(name);
    if (group) return group.members.filter((m) => witnessed(policy, m, verified)).length >= group.k;
    const witness = policy.witnesses.find((w) => w.name === name);
    return witness !== undefined && verified.includes(witness.key);
  }

  function requireQuorum(policy, verified) {
    if (!witnessed(policy, policy.quorum, verified)) {
      const names = policy.witnesses.filter((w) => verified.includes(w.key)).map((w) => w.name);
      fail(`checkpoint: the witness quorum "${policy.quorum}" is not met (valid cosignatures: ${names.join(', ') || 'none'})`);
    }
  }

  /** A pinned log key must be one of the policy's logs (same public key). */
  function requireLogListed(policy, logKey) {
    if (policy.logs.length > 0 && !policy.logs.some((k) => equal(k.pub, logKey.pub) && k.name === logKey.name)) {
      fail('policy: the pinned log key is not one of its logs');
    }
  }

  TL.policy = { parsePolicy, requireQuorum, requireLogListed };
})((window.TL = window.TL || {}));
