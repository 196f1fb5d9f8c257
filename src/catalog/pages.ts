/**
 * Human-readable views of the catalog, generated from it (never written by hand):
 * - one page per policy (`GET /policies/{id}`), the page CRD cards link to;
 * - a side-by-side comparison of every indication's criteria across payers (`GET /policies`,
 *   and `npm run policies:compare` for Markdown) — the view a policy author wants when one
 *   drug has several payers' rules.
 */
import crypto from 'node:crypto';
import type { CriterionDefinition, IndicationDefinition, PhaseDefinition, PolicyDefinition, ReviewRoute } from './types';

const ROUTE: Record<ReviewRoute, string> = {
  auto: 'automatic when every criterion is met; otherwise a physician reviewer',
  'physician-reviewer': 'physician reviewer',
  'medical-director': 'Medical Director',
  committee: 'committee review (never automatic)',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

const STYLE = `body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1b1b1b}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}th,td{border:1px solid #ccc;padding:.35rem .5rem;vertical-align:top;text-align:left}
th{background:#f3f3f3}code{font-size:.9em}.deny{color:#a00}.muted{color:#666}h2{margin-top:2rem}`;

/** The pages' inline style as a Content-Security-Policy source: the CSP allows it by hash, not 'unsafe-inline'. */
export const STYLE_CSP_SOURCE = `'sha256-${crypto.createHash('sha256').update(STYLE).digest('base64')}'`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>`;
}

function criterionRow(policy: PolicyDefinition, c: CriterionDefinition): string {
  const note = c.onUnmet === 'deny' ? ' <span class="deny">(not met → not authorized)</span>' : '';
  return `<tr><td><code>${escapeHtml(`${policy.citationPrefix} ${c.id}`)}</code></td><td>${escapeHtml(c.text)}${note}</td></tr>`;
}

function phaseBlock(policy: PolicyDefinition, label: string, phase: PhaseDefinition, indication: IndicationDefinition): string {
  const route = phase.reviewRoute ?? indication.reviewRoute ?? policy.reviewRoute;
  const facts = [
    `section ${escapeHtml(phase.section)}`,
    phase.approvalMonths ? `approval ${phase.approvalMonths} months` : 'no approval duration',
    `review: ${ROUTE[route]}`,
    ...(phase.quantityNote ? [escapeHtml(phase.quantityNote)] : []),
  ];
  if (phase.disposition === 'deny' || phase.disposition === 'review') {
    return `<h4>${label}</h4><p class="${phase.disposition === 'deny' ? 'deny' : ''}">${escapeHtml(phase.dispositionReason ?? phase.disposition)}</p><p class="muted">${facts.join(' · ')}</p>`;
  }
  const rows = [...(policy.globalCriteria ?? []), ...phase.criteria].map((c) => criterionRow(policy, c)).join('');
  return `<h4>${label}</h4><p class="muted">${facts.join(' · ')}</p><table><tr><th>citation</th><th>criterion (all must be met)</th></tr>${rows}</table>`;
}

export function renderPolicyPage(policy: PolicyDefinition): string {
  const payers = policy.payers.map((p) => escapeHtml(p.name)).join(', ');
  const lines = policy.linesOfBusiness.map((l) => escapeHtml(l.display)).join(', ');
  const sections = policy.indications
    .map(
      (i) =>
        `<h3>${escapeHtml(i.title)}</h3>${phaseBlock(policy, 'Initial request', i.initial, i)}${
          i.continuation ? phaseBlock(policy, 'Continued therapy', i.continuation, i) : ''
        }`,
    )
    .join('');
  const body = `<p class="muted"><a href="/policies">All policies</a></p>
<h1>${escapeHtml(policy.citationPrefix)}: ${escapeHtml(policy.title)}</h1>
<p>Payer: ${payers}<br>Lines of business: ${lines}<br>Drug: ${escapeHtml(policy.drug.name)} (HCPCS ${escapeHtml(policy.drug.hcpcs.join(', ') || '–')})<br>
Effective ${escapeHtml(policy.effectiveDate)}${policy.lastReviewDate ? `, last reviewed ${escapeHtml(policy.lastReviewDate)}` : ''} · version ${escapeHtml(policy.version)}<br>
Documentation form: <code>${escapeHtml(policy.questionnaire)}</code> · rules: CQL library <code>${escapeHtml(policy.library.name)}</code> ${escapeHtml(policy.library.version)}</p>
${policy.approveWithoutReview ? `<p><strong>${escapeHtml(`${policy.citationPrefix} ${policy.approveWithoutReview.id}`)}</strong>: ${escapeHtml(policy.approveWithoutReview.text)}</p>` : ''}
<p class="muted">A criterion the record and the questionnaire cannot show is "unknown" and sends the request to review; it never approves.</p>
${sections}`;
  return page(`${policy.citationPrefix} ${policy.title}`, body);
}

export interface ComparisonRow {
  indication: string;
  cells: Map<string, string[]>;
}

/** Indications grouped by title across policies of the same drug, with each policy's criteria. */
export function compare(policies: readonly PolicyDefinition[]): { drug: string; policies: PolicyDefinition[]; rows: ComparisonRow[] }[] {
  const byDrug = new Map<string, PolicyDefinition[]>();
  for (const p of policies) {
    const key = p.drug.name;
    byDrug.set(key, [...(byDrug.get(key) ?? []), p]);
  }
  return [...byDrug].map(([drug, group]) => {
    const rows = new Map<string, ComparisonRow>();
    for (const p of group) {
      for (const i of p.indications) {
        const row = rows.get(i.title) ?? { indication: i.title, cells: new Map<string, string[]>() };
        const lines: string[] = [];
        for (const [label, phase] of [['Initial', i.initial], ['Continued', i.continuation]] as const) {
          if (!phase) continue;
          const head = `${label} (${phase.section}${phase.approvalMonths ? `, ${phase.approvalMonths} mo` : ''})`;
          if (phase.disposition === 'deny' || phase.disposition === 'review') {
            lines.push(`${head}: ${phase.disposition === 'deny' ? 'not authorized' : 'referred to review'}`);
            continue;
          }
          lines.push(`${head}:`);
          for (const c of [...(p.globalCriteria ?? []), ...phase.criteria]) lines.push(`• ${c.id} ${c.text}${c.onUnmet === 'deny' ? ' [deny if unmet]' : ''}`);
        }
        row.cells.set(p.id, lines);
        rows.set(i.title, row);
      }
    }
    return { drug, policies: group, rows: [...rows.values()] };
  });
}

export function renderComparisonHtml(policies: readonly PolicyDefinition[]): string {
  const blocks = compare(policies)
    .map(({ drug, policies: group, rows }) => {
      const head = group
        .map((p) => `<th><a href="/policies/${encodeURIComponent(p.id)}">${escapeHtml(p.citationPrefix)}</a><br><span class="muted">${escapeHtml(p.payers.map((x) => x.name).join(', '))}</span></th>`)
        .join('');
      const body = rows
        .map(
          (r) =>
            `<tr><th>${escapeHtml(r.indication)}</th>${group
              .map((p) => `<td>${(r.cells.get(p.id) ?? ['not covered by this policy']).map(escapeHtml).join('<br>')}</td>`)
              .join('')}</tr>`,
        )
        .join('');
      return `<h2>${escapeHtml(drug)}</h2><table><tr><th>indication</th>${head}</tr>${body}</table>`;
    })
    .join('');
  return page('Policies side by side', `<h1>Policies side by side</h1><p class="muted">Generated from the policy catalog.</p>${blocks}`);
}

export function renderComparisonMarkdown(policies: readonly PolicyDefinition[]): string {
  const md = (text: string) => text.replace(/\|/g, '\\|');
  const parts = ['# Policies side by side', '', 'Generated by `npm run policies:compare` from `catalog/policies/`. Do not edit by hand.', ''];
  for (const { drug, policies: group, rows } of compare(policies)) {
    parts.push(`## ${drug}`, '');
    parts.push(`| indication | ${group.map((p) => `${p.citationPrefix} (${p.payers.map((x) => x.name).join(', ')})`).map(md).join(' | ')} |`);
    parts.push(`|---|${group.map(() => '---').join('|')}|`);
    for (const r of rows) {
      parts.push(`| ${md(r.indication)} | ${group.map((p) => (r.cells.get(p.id) ?? ['not covered by this policy']).map(md).join('<br>')).join(' | ')} |`);
    }
    parts.push('');
  }
  return parts.join('\n');
}
