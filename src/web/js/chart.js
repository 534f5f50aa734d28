// Entries over time by kind, drawn as inline SVG (no plotting service): one cumulative step line per kind,
// told apart by dash pattern and an end label as well as colour, so it reads without colour.
'use strict';
(function (TL) {
  const SVG = 'http://www.w3.org/2000/svg';
  const STYLES = {
    enrollment: ['#1b5e20', ''],
    registration: ['#0d47a1', '8 3'],
    grant: ['#4a148c', '2 3'],
    revocation: ['#b71c1c', '10 3 2 3'],
    purge: ['#3e2723', '1 5'],
    access: ['#e65100', '5 5'],
    rotation: ['#006064', '12 2 2 2 2 2'],
  };

  function el(name, attrs, text) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /** An SVG of cumulative entries by kind over time, from replayed rows (those that decoded). */
  function entriesOverTime(rows) {
    const W = 720;
    const H = 260;
    const pad = { left: 48, right: 110, top: 16, bottom: 36 };
    const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': 'chart-title chart-desc', width: '100%' });
    const entries = rows.filter((r) => r.entry).map((r) => r.entry);
    const kinds = Object.keys(STYLES).filter((k) => entries.some((e) => e.kind === k));
    svg.append(el('title', { id: 'chart-title' }, 'Entries over time, by kind'));
    svg.append(el('desc', { id: 'chart-desc' }, kinds.map((k) => `${k}: ${entries.filter((e) => e.kind === k).length}`).join(', ')));
    if (entries.length === 0) return svg;
    const t0 = Math.min(...entries.map((e) => e.time));
    const t1 = Math.max(t0 + 1000, ...entries.map((e) => e.time));
    const maxCount = Math.max(...kinds.map((k) => entries.filter((e) => e.kind === k).length));
    const x = (t) => pad.left + ((t - t0) / (t1 - t0)) * (W - pad.left - pad.right);
    const y = (n) => H - pad.bottom - (n / maxCount) * (H - pad.top - pad.bottom);
    svg.append(el('line', { x1: pad.left, y1: y(0), x2: W - pad.right, y2: y(0), stroke: '#555' }));
    svg.append(el('line', { x1: pad.left, y1: y(0), x2: pad.left, y2: pad.top, stroke: '#555' }));
    svg.append(el('text', { x: pad.left - 6, y: y(maxCount) + 4, 'text-anchor': 'end', 'font-size': 11 }, String(maxCount)));
    svg.append(el('text', { x: pad.left - 6, y: y(0) + 4, 'text-anchor': 'end', 'font-size': 11 }, '0'));
    svg.append(el('text', { x: pad.left, y: H - 10, 'font-size': 11 }, new Date(t0).toISOString().replace('.000Z', 'Z')));
    svg.append(el('text', { x: W - pad.right, y: H - 10, 'text-anchor': 'end', 'font-size': 11 }, new Date(t1).toISOString().replace('.000Z', 'Z')));
    // End labels sit at their line's height, pushed apart so equal counts stay legible.
    const labelY = new Map();
    let lowest = -Infinity;
    const byHeight = kinds.map((k) => [k, y(entries.filter((e) => e.kind === k).length) + 4]).sort((a, b) => a[1] - b[1]);
    for (const [kind, at] of byHeight) {
      lowest = Math.max(at, lowest + 13);
      labelY.set(kind, lowest);
    }
    for (const kind of kinds) {
      const [colour, dash] = STYLES[kind];
      const times = entries.filter((e) => e.kind === kind).map((e) => e.time).sort((a, b) => a - b);
      let d = `M ${x(t0)} ${y(0)}`;
      times.forEach((t, i) => {
        d += ` H ${x(t)} V ${y(i + 1)}`;
      });
      d += ` H ${x(t1)}`;
      const line = el('path', { d, fill: 'none', stroke: colour, 'stroke-width': 2, 'data-kind': kind });
      if (dash) line.setAttribute('stroke-dasharray', dash);
      svg.append(line);
      svg.append(el('text', { x: W - pad.right + 6, y: labelY.get(kind), 'font-size': 11, fill: colour }, `${kind} ${times.length}`));
    }
    return svg;
  }

  TL.chart = { entriesOverTime };
})((window.TL = window.TL || {}));
