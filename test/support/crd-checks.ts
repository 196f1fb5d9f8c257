/**
 * Test-only checker of a CDS Hooks response: CDS Hooks 2.0 card rules and the CRD card and
 * system-action rules the service relies on. The coverage-information check it runs is the one
 * the service itself runs before answering (src/crd/coverage-information.ts).
 */
import type { Extension } from 'fhir/r4';
import { checkCoverageInformation } from '../../src/crd/coverage-information';
import {
  CDS_HOOKS_CARD_TYPE_SYSTEM,
  COVERAGE_INFORMATION_URL,
  CRD_TEMP_SYSTEM,
  type CdsServiceResponse,
  type CrdVersion,
  type HookName,
} from '../../src/crd/types';


export interface ResponseCheckOptions {
  hook?: HookName;
  version?: CrdVersion;
}

/**
 * Checks a CDS Hooks response against CDS Hooks 2.0 card rules and the CRD card and system-action
 * rules we rely on; returns the violations (empty = valid). Runs checkCoverageInformation on every
 * coverage-information of every system action.
 */
export function checkCdsServiceResponse(response: CdsServiceResponse, options: ResponseCheckOptions = {}): string[] {
  const problems: string[] = [];
  if (!Array.isArray(response.cards)) return ['cards must be an array'];
  const topicSystems = options.version === undefined ? [CRD_TEMP_SYSTEM, CDS_HOOKS_CARD_TYPE_SYSTEM] : [options.version === '2.2' ? CDS_HOOKS_CARD_TYPE_SYSTEM : CRD_TEMP_SYSTEM];
  response.cards.forEach((card, i) => {
    const at = `cards[${i}]`;
    if (!card.uuid) problems.push(`${at}.uuid is required (CRD)`);
    if (!card.summary || card.summary.length >= 140) problems.push(`${at}.summary must be 1..139 characters`);
    if (!['info', 'warning', 'critical'].includes(card.indicator)) problems.push(`${at}.indicator is invalid`);
    if (!card.source?.label) problems.push(`${at}.source.label is required`);
    if (!card.source?.topic?.code || !topicSystems.includes(card.source.topic.system ?? '')) problems.push(`${at}.source.topic must be a CRD card type`);
    if (card.suggestions?.length) {
      if (!card.selectionBehavior) problems.push(`${at}.selectionBehavior is required with suggestions`);
      card.suggestions.forEach((s, j) => {
        const actions = s.actions ?? [];
        if (!s.label) problems.push(`${at}.suggestions[${j}].label is required`);
        actions.forEach((a, k) => {
          if (!a.description) problems.push(`${at}.suggestions[${j}].actions[${k}].description is required`);
          if ((a.type === 'create' || a.type === 'update') && !a.resource) problems.push(`${at}.suggestions[${j}].actions[${k}] needs a resource`);
          if (a.type === 'delete' && !a.resourceId) problems.push(`${at}.suggestions[${j}].actions[${k}] needs a resourceId`);
        });
        // crd-respar-1 is a Propose Alternate Request rule; Request Form Completion suggestions create Tasks.
        const types = actions.map((a) => a.type).sort().join(',');
        if (card.source?.topic?.code === 'therapy-alternatives-req' && types !== 'update' && types !== 'create,delete') {
          problems.push(`${at}.suggestions[${j}] must be one update, or one delete and one create (crd-respar-1)`);
        }
      });
    }
    card.links?.forEach((l, j) => {
      if (!l.label || !/^https?:\/\//.test(l.url)) problems.push(`${at}.links[${j}] needs a label and an absolute URL`);
      if (l.type !== 'absolute' && l.type !== 'smart') problems.push(`${at}.links[${j}].type is invalid`);
      if (l.appContext !== undefined && l.type !== 'smart') problems.push(`${at}.links[${j}].appContext is only for smart links`);
    });
  });
  (response.systemActions ?? []).forEach((action, i) => {
    const at = `systemActions[${i}]`;
    if (action.type !== 'update') problems.push(`${at}.type must be update for coverage information`);
    const resource = action.resource as { extension?: Extension[] } | undefined;
    const infos = (resource?.extension ?? []).filter((e) => e.url === COVERAGE_INFORMATION_URL);
    if (infos.length === 0) problems.push(`${at}.resource has no coverage-information (crd-respci1)`);
    const idsByCoverage = new Map<string, Set<string>>();
    for (const info of infos) {
      for (const p of checkCoverageInformation(info, options)) problems.push(`${at}: ${p}`);
      const coverage = info.extension?.find((e) => e.url === 'coverage')?.valueReference?.reference ?? '';
      const id = info.extension?.find((e) => e.url === 'coverage-assertion-id')?.valueString ?? '';
      idsByCoverage.set(coverage, (idsByCoverage.get(coverage) ?? new Set()).add(id));
    }
    for (const [coverage, ids] of idsByCoverage) if (ids.size > 1) problems.push(`${at}: assertions about ${coverage} must share one coverage-assertion-id`);
    const all = [...idsByCoverage.values()].flatMap((s) => [...s]);
    if (new Set(all).size !== all.length) problems.push(`${at}: different coverages must have distinct coverage-assertion-ids`);
  });
  return problems;
}
