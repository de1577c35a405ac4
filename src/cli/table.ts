/** A plain text table; cells are cut so one long problem does not wrap the whole table. */
export function renderTable(head: string[], rows: string[][], maxCell = 60): string {
  const cut = (s: string): string => (s.length > maxCell ? `${s.slice(0, maxCell - 1)}…` : s);
  const all = [head, ...rows].map((r) => r.map((c) => cut(c.replace(/\s+/g, ' '))));
  const widths = head.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(all[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join('\n');
}
