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

/** An inline style as a Content-Security-Policy source: the CSP allows it by hash, not 'unsafe-inline'. */
export function styleCspSource(css: string): string {
  return `'sha256-${crypto.createHash('sha256').update(css).digest('base64')}'`;
}

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

/** What a policy author compares first between payers for one indication. */
export type Aspect = 'approval' | 'review' | 'step therapy' | 'dose limits';
export const ASPECTS: readonly Aspect[] = ['approval', 'review', 'step therapy', 'dose limits'];

const SHORT_ROUTE: Record<ReviewRoute, string> = {
  auto: 'automatic, else physician reviewer',
  'physician-reviewer': 'physician reviewer',
  'medical-director': 'Medical Director',
  committee: 'committee',
};

// Step therapy: a criterion that offers alternatives, or one about other drugs failing or being tried.
const STEP_THERAPY = /\b(failed|failure|trial|tried|inadequate response|preferred (formulary )?(product|drug|agent)s?)\b/i;
// Dose limits: a criterion that caps the dose or quantity.
const DOSE_LIMIT = /\b(at most|not exceed|up to|maximum)\b[^.]*\b(mg|syringes?|doses?|daily|per day)\b/i;

export interface PhaseLines {
  label: 'Initial' | 'Continued';
  section: string;
  /** `6 months`, `not authorized`, `referred to review`, `no approval`. */
  approval: string;
  /** Short lines: citation and criterion text. */
  criteria: { citation: string; text: string; deny: boolean }[];
}

export interface ComparisonCell {
  /** The policy's own title for the indication. */
  title: string;
  phases: PhaseLines[];
  aspects: Record<Aspect, string>;
}

export interface ComparisonRow {
  /** The shared identity: the diagnosis value set, else `other` for each policy's "other uses" section. */
  key: string;
  indication: string;
  cells: Map<string, ComparisonCell>;
  /** Aspects whose value is not the same for every policy that covers the indication. */
  differs: Set<Aspect>;
}

function phaseLines(policy: PolicyDefinition, label: PhaseLines['label'], phase: PhaseDefinition): PhaseLines {
  const evaluated = phase.disposition !== 'deny' && phase.disposition !== 'review';
  const approval =
    phase.disposition === 'deny' ? 'not authorized' : phase.disposition === 'review' ? 'referred to review' : phase.approvalMonths ? `${phase.approvalMonths} months` : 'no approval';
  const criteria = evaluated
    ? [...(policy.globalCriteria ?? []), ...phase.criteria].map((c) => ({ citation: `${policy.citationPrefix} ${c.id}`, text: c.text, deny: c.onUnmet === 'deny' }))
    : [];
  return { label, section: phase.section, approval, criteria };
}

function cellFor(policy: PolicyDefinition, indication: IndicationDefinition): ComparisonCell {
  const phases = [phaseLines(policy, 'Initial', indication.initial), ...(indication.continuation ? [phaseLines(policy, 'Continued', indication.continuation)] : [])];
  const evaluated = [indication.initial, ...(indication.continuation ? [indication.continuation] : [])].filter((p) => p.disposition !== 'deny' && p.disposition !== 'review');
  const criteria = evaluated.flatMap((p) => [...(policy.globalCriteria ?? []), ...p.criteria]);
  const ids = (list: CriterionDefinition[]) => [...new Set(list.map((c) => c.id))];
  const step = ids(criteria.filter((c) => (c.alternatives?.length ?? 0) > 0 || STEP_THERAPY.test(c.text)));
  const dose = ids(criteria.filter((c) => DOSE_LIMIT.test(c.text)));
  const notes = [...new Set(evaluated.flatMap((p) => (p.quantityNote ? [p.quantityNote] : [])))];
  // A phase that is never approved automatically goes to a physician reviewer when the route says `auto` (as decide() does).
  const routes = [
    ...new Set(
      [indication.initial, ...(indication.continuation ? [indication.continuation] : [])].map((p) => {
        const route = p.reviewRoute ?? indication.reviewRoute ?? policy.reviewRoute;
        const automatic = p.disposition !== 'deny' && p.disposition !== 'review' && p.approvalMonths !== undefined;
        return SHORT_ROUTE[route === 'auto' && !automatic ? 'physician-reviewer' : route];
      }),
    ),
  ];
  return {
    title: indication.title,
    phases,
    aspects: {
      approval: phases.map((p) => `${p.label.toLowerCase()}: ${p.approval}`).join('; '),
      review: routes.join('; '),
      'step therapy': step.length > 0 ? `required (${step.join(', ')})` : 'none',
      'dose limits': [...(dose.length > 0 ? [`criteria ${dose.join(', ')}`] : []), ...notes].join('; ') || 'none',
    },
  };
}

/** The shared identity of an indication across policies of one drug. */
function indicationKey(policy: PolicyDefinition, indication: IndicationDefinition): string {
  if (indication.diagnosisValueSet) return indication.diagnosisValueSet;
  return indication.id === policy.otherIndication ? 'other' : `${policy.id}#${indication.id}`;
}

/** The title most policies use (shortest on a tie). */
function commonTitle(titles: string[]): string {
  const counts = new Map<string, number>();
  for (const t of titles) counts.set(t, (counts.get(t) ?? 0) + 1);
  return [...counts].sort(([a, x], [b, y]) => y - x || a.length - b.length)[0]?.[0] ?? '';
}

/** Differences are judged without citations (each payer numbers its sections its own way). */
function comparable(aspect: Aspect, value: string): string {
  return aspect === 'step therapy' ? value.replace(/ \(.*\)$/, '') : aspect === 'dose limits' ? value.replace(/criteria [^;]+/, 'criteria') : value;
}

/**
 * Indications across the policies of each drug, one row per shared indication identity (the
 * diagnosis value set; a policy's "other uses" section shares the `other` row), so one payer's
 * "Moderate to severe rheumatoid arthritis" sits beside another's "Rheumatoid arthritis".
 */
export function compare(policies: readonly PolicyDefinition[]): { drug: string; policies: PolicyDefinition[]; rows: ComparisonRow[] }[] {
  const byDrug = new Map<string, PolicyDefinition[]>();
  for (const p of policies) byDrug.set(p.drug.valueSet, [...(byDrug.get(p.drug.valueSet) ?? []), p]);
  return [...byDrug.values()].map((group) => {
    const rows = new Map<string, ComparisonRow>();
    for (const p of group) {
      for (const i of p.indications) {
        const key = indicationKey(p, i);
        const row = rows.get(key) ?? { key, indication: '', cells: new Map<string, ComparisonCell>(), differs: new Set<Aspect>() };
        row.cells.set(p.id, cellFor(p, i));
        rows.set(key, row);
      }
    }
    for (const row of rows.values()) {
      const cells = [...row.cells.values()];
      row.indication = commonTitle(cells.map((c) => c.title));
      for (const aspect of ASPECTS) {
        if (new Set(cells.map((c) => comparable(aspect, c.aspects[aspect]))).size > 1) row.differs.add(aspect);
      }
    }
    const ordered = [...rows.values()].sort((a, b) => Number(a.key === 'other') - Number(b.key === 'other'));
    return { drug: group[0]?.drug.name ?? '', policies: group, rows: ordered };
  });
}

const NOT_COVERED = 'not covered by this policy';

function cellHtml(row: ComparisonRow, cell: ComparisonCell | undefined): string {
  if (!cell) return `<td class="absent">${NOT_COVERED}</td>`;
  const title = cell.title !== row.indication ? `<p class="own">${escapeHtml(cell.title)}</p>` : '';
  const facts = ASPECTS.map(
    (a) => `<li class="aspect${row.differs.has(a) ? ' differs' : ''}" data-aspect="${a}"><b>${a}:</b> ${escapeHtml(cell.aspects[a])}</li>`,
  ).join('');
  const phases = cell.phases
    .map((p) => {
      const lines = p.criteria
        .map((c) => `<li><code>${escapeHtml(c.citation)}</code> ${escapeHtml(c.text)}${c.deny ? ' <span class="deny">(unmet → not authorized)</span>' : ''}</li>`)
        .join('');
      return `<h4>${p.label} <span class="muted">(${escapeHtml(p.section)}, ${escapeHtml(p.approval)})</span></h4>${lines ? `<ul class="criteria">${lines}</ul>` : ''}`;
    })
    .join('');
  return `<td>${title}<ul class="aspects">${facts}</ul>${phases}</td>`;
}

const COMPARE_STYLE = `.aspects,.criteria{margin:.2rem 0 .5rem;padding-left:1.1rem}.criteria li{margin:.15rem 0}
.differs{background:#fff3bf}.absent{color:#666;font-style:italic}.own{margin:0 0 .3rem;font-style:italic}h4{margin:.5rem 0 .2rem;font-size:.95em}
td{min-width:16rem}.legend span{background:#fff3bf;padding:0 .3rem}`;

/** Every inline style these pages carry, for the CSP. */
export const PAGE_STYLE_CSP_SOURCES = [STYLE, COMPARE_STYLE].map(styleCspSource);

export function renderComparisonHtml(policies: readonly PolicyDefinition[]): string {
  const blocks = compare(policies)
    .map(({ drug, policies: group, rows }) => {
      const head = group
        .map((p) => `<th data-policy="${escapeHtml(p.id)}"><a href="/policies/${encodeURIComponent(p.id)}">${escapeHtml(p.citationPrefix)}</a><br><span class="muted">${escapeHtml(p.payers.map((x) => x.name).join(', '))}</span></th>`)
        .join('');
      const body = rows
        .map((r) => `<tr data-indication="${escapeHtml(r.key)}"><th>${escapeHtml(r.indication)}</th>${group.map((p) => cellHtml(r, r.cells.get(p.id))).join('')}</tr>`)
        .join('');
      return `<h2>${escapeHtml(drug)}</h2><table><tr><th>indication</th>${head}</tr>${body}</table>`;
    })
    .join('');
  return page(
    'Policies side by side',
    `<style>${COMPARE_STYLE}</style><h1>Policies side by side</h1><p class="muted">Generated from the policy catalog. One row per indication (matched by its diagnosis value set); each cell lists that payer's criteria with their citations.</p>
<p class="legend"><span>Highlighted</span> aspects differ between the payers that cover the indication.</p>${blocks}`,
  );
}

export function renderComparisonMarkdown(policies: readonly PolicyDefinition[]): string {
  const md = (text: string) => text.replace(/\|/g, '\\|');
  const parts = [
    '# Policies side by side',
    '',
    'Generated by `npm run policies:compare` from `catalog/policies/`. Do not edit by hand.',
    'One row per indication (matched by its diagnosis value set). **⚠** marks an aspect that differs between the payers that cover the indication.',
    '',
  ];
  for (const { drug, policies: group, rows } of compare(policies)) {
    parts.push(`## ${drug}`, '');
    parts.push(`| indication | ${group.map((p) => `${p.citationPrefix} (${p.payers.map((x) => x.name).join(', ')})`).map(md).join(' | ')} |`);
    parts.push(`|---|${group.map(() => '---').join('|')}|`);
    for (const r of rows) {
      const cells = group.map((p) => {
        const cell = r.cells.get(p.id);
        if (!cell) return `_${NOT_COVERED}_`;
        const lines = [
          ...(cell.title !== r.indication ? [`_${cell.title}_`] : []),
          ...ASPECTS.map((a) => `${r.differs.has(a) ? '**⚠ ' : '**'}${a}:** ${cell.aspects[a]}`),
          ...cell.phases.flatMap((ph) => [`**${ph.label}** (${ph.section}, ${ph.approval})`, ...ph.criteria.map((c) => `• ${c.citation} ${c.text}${c.deny ? ' (unmet → not authorized)' : ''}`)]),
        ];
        return lines.map(md).join('<br>');
      });
      parts.push(`| ${md(r.indication)} | ${cells.join(' | ')} |`);
    }
    parts.push('');
  }
  return parts.join('\n');
}
