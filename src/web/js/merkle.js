// RFC 6962 / RFC 9162 §2.1 Merkle trees: leaf and node hashes, the tree hash of a list of leaves, and the
// verification of inclusion (§2.1.3.2) and consistency (§2.1.4.2) proofs, step for step. Indexes and sizes are
// BigInt (the published vectors use indexes up to 2^64-1).
'use strict';
(function (TL) {
  const { fail, concat, equal, sha256, toB64 } = TL.bytes;
  const LEAF = new Uint8Array([0]);
  const NODE = new Uint8Array([1]);

  function leafHash(data) {
    return sha256(LEAF, data);
  }

  function nodeHash(left, right) {
    return sha256(NODE, left, right);
  }

  function need32(hash, what) {
    if (!(hash instanceof Uint8Array) || hash.length !== 32) fail(`${what} is not a 32-byte hash`);
  }

  /** MTH over leaf hashes (RFC 9162 §2.1.1): split at the largest power of two below n. */
  async function rootOf(leafHashes) {
    if (leafHashes.length === 0) return sha256(new Uint8Array(0));
    // Bottom-up over perfect subtrees, then fold the right edge: equal to the recursive definition.
    let level = leafHashes.slice();
    const edge = [];
    while (level.length > 1) {
      if (level.length % 2 === 1) edge.push({ hash: level.pop(), height: edge.length });
      const next = [];
      for (let i = 0; i < level.length; i += 2) next.push(nodeHash(level[i], level[i + 1]));
      level = await Promise.all(next);
    }
    // `level[0]` is the largest perfect subtree; leftovers hang to its right, smaller ones further right.
    let right = null;
    for (const piece of edge) right = right === null ? piece.hash : await nodeHash(piece.hash, right);
    return right === null ? level[0] : nodeHash(level[0], right);
  }

  /** RFC 9162 §2.1.3.2: does `proof` prove `leaf` at `index` in the tree of `size` with `root`? */
  async function verifyInclusion(index, size, leaf, proof, root) {
    if (index >= size) fail(`inclusion proof: index ${index} is not below the tree size ${size}`);
    need32(leaf, 'the leaf hash');
    need32(root, 'the root');
    proof.forEach((p, i) => need32(p, `inclusion proof hash ${i}`));
    let fn = index;
    let sn = size - 1n;
    let r = leaf;
    for (const p of proof) {
      if (sn === 0n) fail('inclusion proof: longer than the tree needs');
      if ((fn & 1n) === 1n || fn === sn) {
        r = await nodeHash(p, r);
        if ((fn & 1n) === 0n) {
          while ((fn & 1n) === 0n && fn !== 0n) {
            fn >>= 1n;
            sn >>= 1n;
          }
        }
      } else {
        r = await nodeHash(r, p);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) fail('inclusion proof: shorter than the tree needs');
    if (!equal(r, root)) fail(`inclusion proof: it leads to root ${toB64(r)}, not to ${toB64(root)}`);
  }

  function isPowerOfTwo(n) {
    return n > 0n && (n & (n - 1n)) === 0n;
  }

  /** RFC 9162 §2.1.4.2: does `proof` show the tree (size1, root1) is a prefix of (size2, root2)? */
  async function verifyConsistency(size1, size2, root1, root2, proof) {
    if (size1 > size2) fail(`consistency: the old size ${size1} is larger than the new size ${size2}`);
    if (size1 === 0n) fail('consistency: a proof from the empty tree proves nothing');
    if (size1 === size2) {
      if (proof.length !== 0) fail('consistency: equal sizes need an empty proof');
      if (!equal(root1, root2)) fail(`consistency: two different roots for the same size ${size1}`);
      return;
    }
    if (proof.length === 0) fail('consistency: the proof is empty');
    need32(root1, 'the old root');
    need32(root2, 'the new root');
    proof.forEach((p, i) => need32(p, `consistency proof hash ${i}`));
    const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof.slice();
    let fn = size1 - 1n;
    let sn = size2 - 1n;
    while ((fn & 1n) === 1n) {
      fn >>= 1n;
      sn >>= 1n;
    }
    let fr = path[0];
    let sr = path[0];
    for (const c of path.slice(1)) {
      if (sn === 0n) fail('consistency: the proof is longer than the trees need');
      if ((fn & 1n) === 1n || fn === sn) {
        fr = await nodeHash(c, fr);
        sr = await nodeHash(c, sr);
        if ((fn & 1n) === 0n) {
          while ((fn & 1n) === 0n && fn !== 0n) {
            fn >>= 1n;
            sn >>= 1n;
          }
        }
      } else {
        sr = await nodeHash(sr, c);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) fail('consistency: the proof is shorter than the trees need');
    if (!equal(fr, root1)) fail('consistency: the proof does not lead to the old root');
    if (!equal(sr, root2)) fail('consistency: the proof does not lead to the new root');
  }

  TL.merkle = { leafHash, nodeHash, rootOf, verifyInclusion, verifyConsistency };
})((window.TL = window.TL || {}));
