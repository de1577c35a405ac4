/** Plain-text table for the terminal (and the same rows go to results.json). */
export interface Row {
  measurement: string;
  figure: string;
  goal: string;
  verdict: string;
}

export function renderTable(rows: Row[]): string {
  const head: Row = { measurement: 'measurement', figure: 'figure', goal: 'goal', verdict: 'ratio / verdict' };
  const all = [head, ...rows];
  const keys = ['measurement', 'figure', 'goal', 'verdict'] as const;
  const width = keys.map((k) => Math.max(...all.map((r) => r[k].length)));
  const line = (r: Row): string => keys.map((k, i) => r[k].padEnd(width[i]!)).join(' │ ').trimEnd();
  const rule = width.map((w) => '─'.repeat(w)).join('─┼─');
  return [line(head), rule, ...rows.map(line)].join('\n');
}

export const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(bytes >= 1e8 ? 0 : 1)} MB`;
export const rate = (bytes: number, seconds: number): string => `${(bytes / 1e6 / seconds).toFixed(1)} MB/s`;
export const perSecond = (n: number, seconds: number): string => `${Math.round(n / seconds).toLocaleString('en-US')} msg/s`;
export const int = (n: number): string => Math.round(n).toLocaleString('en-US');
