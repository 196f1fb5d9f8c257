/**
 * CMS-0057-F prior-authorization figures (42 CFR 422.122(c), 438.210(f), 440.230(e)(3), 457.732(c),
 * 156.223(c)): by policy and month of receipt, standard and expedited apart, the requests received,
 * approved, denied, still pended and cancelled, those approved after clinical review, those whose
 * timeframe was extended, and the average and median time from receipt to decision.
 *
 * Each stored Claim counts as one request (an update is a new request that replaces an earlier
 * one). Time to decision covers approved and denied requests with a decision time; a cancelled or
 * still pended request has none.
 */
import type { PolicyCatalog } from '../catalog/catalog';
import { escapeHtml } from '../catalog/pages';
import { badRequest } from '../fhir/outcomes';
import type { ReportRow, Store } from '../store';

/** The report page's inline style (allowed by hash in the CSP). */
export const REPORT_STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:1.5rem;color:#1d2733}h1{font-size:1.3rem}h2{font-size:1.05rem;margin-top:1.5rem}table{border-collapse:collapse;width:100%}caption{text-align:left;color:#56606b;padding:.25rem 0}th,td{border-bottom:1px solid #d8dee5;padding:.35rem .5rem;text-align:left}tbody th{white-space:nowrap}td.num{text-align:right;font-variant-numeric:tabular-nums}thead th{background:#eef2f6;font-weight:600}tr.total{font-weight:600;background:#f7f9fb}.muted{color:#56606b}`;

export type Timeframe = 'standard' | 'expedited';

export interface ReportLine extends Omit<ReportRow, 'policyId' | 'expedited' | 'averageSeconds' | 'medianSeconds'> {
  policy: { id: string | null; title: string };
  timeframe: Timeframe;
  /** Hours from receipt to decision (null when nothing was decided). */
  averageHours: number | null;
  medianHours: number | null;
}

export interface PriorAuthorizationReport {
  title: string;
  generatedAt: string;
  /** Receipt window, ISO date-times; null = open. */
  since: string | null;
  until: string | null;
  rows: ReportLine[];
  /** Counts over every row, per timeframe (averages weighted by decided requests; medians need the rows). */
  totals: Record<Timeframe, Omit<ReportLine, 'policy' | 'month' | 'timeframe' | 'medianHours'>>;
}

const MONTH = /^\d{4}-\d{2}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** `YYYY-MM` or `YYYY-MM-DD` (UTC) → ISO date-time; `end` moves a month to its following month. */
export function parseReportBound(value: unknown, name: 'since' | 'until'): string | null {
  if (value === undefined || value === '') return null;
  if (typeof value !== 'string') throw badRequest(`${name} must be a month (YYYY-MM) or a date (YYYY-MM-DD).`, name);
  let date: Date;
  if (MONTH.test(value)) {
    const [y, m] = value.split('-').map(Number) as [number, number];
    date = new Date(Date.UTC(y, m - 1 + (name === 'until' ? 1 : 0), 1));
  } else if (DAY.test(value)) {
    date = new Date(`${value}T00:00:00Z`);
    if (name === 'until') date = new Date(date.getTime() + 86_400_000);
  } else {
    throw badRequest(`${name} must be a month (YYYY-MM) or a date (YYYY-MM-DD), got ${JSON.stringify(value).slice(0, 40)}.`, name);
  }
  if (Number.isNaN(date.getTime())) throw badRequest(`${name} is not a real date.`, name);
  return date.toISOString();
}

const hours = (seconds: number | null) => (seconds === null ? null : Math.round((seconds / 3600) * 100) / 100);

export async function priorAuthorizationReport(
  deps: { store: Store; catalog: PolicyCatalog; clock: () => Date },
  window: { since: string | null; until: string | null },
): Promise<PriorAuthorizationReport> {
  const rows = await deps.store.priorAuthorizationReport({ ...(window.since ? { since: window.since } : {}), ...(window.until ? { until: window.until } : {}) });
  const lines: ReportLine[] = rows.map(({ policyId, expedited, averageSeconds, medianSeconds, ...counts }) => {
    const policy = policyId ? deps.catalog.get(policyId) : undefined;
    return {
      policy: { id: policyId, title: policy ? `${policy.citationPrefix} ${policy.drug.name}` : policyId ? policyId : 'No policy on file' },
      timeframe: expedited ? 'expedited' : 'standard',
      ...counts,
      averageHours: hours(averageSeconds),
      medianHours: hours(medianSeconds),
    };
  });
  const empty = () => ({ requests: 0, approved: 0, denied: 0, pended: 0, cancelled: 0, approvedAfterReview: 0, extended: 0, decided: 0, decidedLate: 0, averageHours: null as number | null });
  const totals = { standard: empty(), expedited: empty() };
  const weighted = { standard: 0, expedited: 0 };
  for (const line of lines) {
    const t = totals[line.timeframe];
    for (const key of ['requests', 'approved', 'denied', 'pended', 'cancelled', 'approvedAfterReview', 'extended', 'decided', 'decidedLate'] as const) t[key] += line[key];
    if (line.averageHours !== null) weighted[line.timeframe] += line.averageHours * line.decided;
  }
  for (const tf of ['standard', 'expedited'] as const) {
    const t = totals[tf];
    t.averageHours = t.decided > 0 ? Math.round((weighted[tf] / t.decided) * 100) / 100 : null;
  }
  return {
    title: 'Prior authorization figures (CMS-0057-F)',
    generatedAt: deps.clock().toISOString(),
    since: window.since,
    until: window.until,
    rows: lines,
    totals,
  };
}

const COLUMNS: [keyof ReportLine, string][] = [
  ['requests', 'Requests'],
  ['approved', 'Approved'],
  ['approvedAfterReview', 'Approved after review'],
  ['denied', 'Denied'],
  ['pended', 'Pended'],
  ['cancelled', 'Cancelled'],
  ['extended', 'Timeframe extended'],
  ['decidedLate', 'Decided late'],
  ['averageHours', 'Average hours to decision'],
  ['medianHours', 'Median hours to decision'],
];

export function renderReportHtml(report: PriorAuthorizationReport): string {
  const cell = (v: unknown) => `<td class="num">${v === null || v === undefined ? '–' : escapeHtml(String(v))}</td>`;
  const body = (['standard', 'expedited'] as const)
    .map((tf) => {
      const rows = report.rows.filter((r) => r.timeframe === tf);
      const lines = rows.length
        ? rows.map((r) => `<tr><th scope="row">${escapeHtml(r.month)}</th><td>${escapeHtml(r.policy.title)}</td>${COLUMNS.map(([k]) => cell(r[k])).join('')}</tr>`).join('')
        : `<tr><td colspan="${COLUMNS.length + 2}">No ${tf} requests in this period.</td></tr>`;
      const t = report.totals[tf];
      const total = `<tr class="total"><th scope="row" colspan="2">All ${tf}</th>${COLUMNS.map(([k]) => cell(k === 'medianHours' ? null : (t as Record<string, unknown>)[k])).join('')}</tr>`;
      return `<h2>${tf === 'standard' ? 'Standard (7 calendar days)' : 'Expedited (72 hours)'}</h2>
<table><caption>${tf} requests by month of receipt and policy</caption><thead><tr><th scope="col">Month</th><th scope="col">Policy</th>${COLUMNS.map(([, label]) => `<th scope="col">${escapeHtml(label)}</th>`).join('')}</tr></thead><tbody>${lines}${total}</tbody></table>`;
    })
    .join('\n');
  const window = [report.since ? `from ${report.since.slice(0, 10)}` : '', report.until ? `before ${report.until.slice(0, 10)}` : ''].filter(Boolean).join(' ') || 'at any time';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(report.title)}</title>
<style>${REPORT_STYLE}</style></head>
<body><h1>${escapeHtml(report.title)}</h1><p class="muted">Requests received ${escapeHtml(window)}; generated ${escapeHtml(report.generatedAt)}. Time to decision counts approved and denied requests. <a href="?format=json">JSON</a></p>
${body}</body></html>`;
}
