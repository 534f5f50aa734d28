// A strict JSON parser (RFC 8259) for the documents the page verifies. Unlike JSON.parse it keeps each
// number's literal text (a commitment encodes `1` and `1.0` differently, docs/formats.md "Leaf value
// encoding") and refuses duplicate object keys.
'use strict';
(function (TL) {
  const { fail } = TL.bytes;

  /** A JSON number as written. */
  class JsonNumber {
    constructor(text) {
      this.text = text;
    }
    toString() {
      return this.text;
    }
  }

  const MAX_DEPTH = 128;

  function parseJson(text, what = 'JSON') {
    let at = 0;
    const bad = (reason) => fail(`${what}: ${reason} at offset ${at}`);
    const ws = () => {
      while (at < text.length && ' \t\n\r'.includes(text[at])) at++;
    };
    const value = (depth) => {
      if (depth > MAX_DEPTH) bad('nested too deeply');
      ws();
      const c = text[at];
      if (c === '{') return object(depth);
      if (c === '[') return array(depth);
      if (c === '"') return string();
      if (c === '-' || (c >= '0' && c <= '9')) return number();
      for (const [word, v] of [['true', true], ['false', false], ['null', null]]) {
        if (text.startsWith(word, at)) {
          at += word.length;
          return v;
        }
      }
      return bad('unexpected character');
    };
    const object = (depth) => {
      at++;
      const out = new Map();
      ws();
      if (text[at] === '}') {
        at++;
        return out;
      }
      for (;;) {
        ws();
        if (text[at] !== '"') bad('expected a member name');
        const key = string();
        if (out.has(key)) bad(`duplicate member "${key}"`);
        ws();
        if (text[at] !== ':') bad('expected ":"');
        at++;
        out.set(key, value(depth + 1));
        ws();
        if (text[at] === ',') at++;
        else if (text[at] === '}') {
          at++;
          return out;
        } else bad('expected "," or "}"');
      }
    };
    const array = (depth) => {
      at++;
      const out = [];
      ws();
      if (text[at] === ']') {
        at++;
        return out;
      }
      for (;;) {
        out.push(value(depth + 1));
        ws();
        if (text[at] === ',') at++;
        else if (text[at] === ']') {
          at++;
          return out;
        } else bad('expected "," or "]"');
      }
    };
    // Sticky expressions match at `at` without copying the rest of the text (no quadratic slicing).
    const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
    const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
    const sticky = (re) => {
      re.lastIndex = at;
      return re.exec(text);
    };
    const string = () => {
      const m = sticky(STRING);
      if (!m) bad('malformed string');
      at += m[0].length;
      const s = JSON.parse(m[0]);
      // A lone surrogate cannot be UTF-8, so no commitment can contain it.
      if (!s.isWellFormed()) bad('string with a lone surrogate');
      return s;
    };
    const number = () => {
      const m = sticky(NUMBER);
      if (!m) bad('malformed number');
      at += m[0].length;
      return new JsonNumber(m[0]);
    };
    const out = value(0);
    ws();
    if (at !== text.length) bad('trailing characters');
    return out;
  }

  /** Members of an object, exactly `required` plus any of `optional`; else a VerifyError naming `what`. */
  function members(obj, what, required, optional = []) {
    if (!(obj instanceof Map)) fail(`${what}: not an object`);
    for (const key of obj.keys()) {
      if (!required.includes(key) && !optional.includes(key)) fail(`${what}: unknown member "${key}"`);
    }
    for (const key of required) if (!obj.has(key)) fail(`${what}: missing member "${key}"`);
    return Object.fromEntries(obj);
  }

  function str(v, what) {
    if (typeof v !== 'string') fail(`${what}: not a string`);
    return v;
  }

  function uint(v, what) {
    if (!(v instanceof JsonNumber) || !/^(?:0|[1-9][0-9]*)$/.test(v.text)) fail(`${what}: not a non-negative integer`);
    return TL.bytes.parseU64(v.text, what);
  }

  function list(v, what) {
    if (!Array.isArray(v)) fail(`${what}: not a list`);
    return v;
  }

  /** Back to plain JS for display (numbers as written). */
  function display(v) {
    if (v instanceof Map) return `{${[...v].map(([k, x]) => `${JSON.stringify(k)}: ${display(x)}`).join(', ')}}`;
    if (Array.isArray(v)) return `[${v.map(display).join(', ')}]`;
    if (v instanceof JsonNumber) return v.text;
    return JSON.stringify(v);
  }

  TL.json = { JsonNumber, parseJson, members, str, uint, list, display };
})((window.TL = window.TL || {}));
