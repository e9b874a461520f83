// The benchmark result as a small SVG bar chart: msgpacknet/raw per row, with the target marked.
import type { BenchResult } from './types.js';

export function chart(result: BenchResult): string {
  const rows = [
    ...result.throughput.map((row) => ({ label: `${row.kind} one-way`, ratio: row.ratio, target: row.target, higherIsBetter: true })),
    { label: 'ping-pong p50', ratio: result.pingPong.ratioP50, target: 1.2, higherIsBetter: false },
  ];
  const width = 640;
  const barHeight = 28;
  const left = 150;
  const scale = (width - left - 60) / 1.5; // ratios 0..1.5
  const height = rows.length * (barHeight + 12) + 60;
  const bars = rows
    .map((row, i) => {
      const y = 40 + i * (barHeight + 12);
      const ok = row.higherIsBetter ? row.ratio >= row.target : row.ratio <= row.target;
      const w = Math.max(1, Math.min(1.5, row.ratio) * scale);
      const tx = left + row.target * scale;
      return [
        `<text x="${left - 8}" y="${y + 19}" text-anchor="end" font-size="13">${row.label}</text>`,
        `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${ok ? '#2e7d32' : '#c62828'}"/>`,
        `<text x="${(left + w + 6).toFixed(1)}" y="${y + 19}" font-size="13">${row.ratio.toFixed(2)}</text>`,
        `<line x1="${tx.toFixed(1)}" x2="${tx.toFixed(1)}" y1="${y - 3}" y2="${y + barHeight + 3}" stroke="#000" stroke-dasharray="3,2"/>`,
      ].join('');
    })
    .join('\n');
  const one = left + scale;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<text x="10" y="22" font-size="15" font-weight="bold">msgpacknet / raw baseline (same run, medians; dashed: target)</text>
<line x1="${one}" x2="${one}" y1="32" y2="${height - 20}" stroke="#999"/>
<text x="${one}" y="${height - 6}" font-size="11" text-anchor="middle">1.0 = raw</text>
${bars}
</svg>
`;
}
