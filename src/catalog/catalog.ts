/**
 * The policy catalog's policies (read and validated by ./load.ts), and the choice of the policy for
 * a request by payer, line of business and drug.
 */
import { stateCode } from '../fhir/address';
import type { Coding } from 'fhir/r4';
import type { LineOfBusiness, PolicyDefinition } from './types';
import type { ValueSetIndex } from './terminology';
import type { DrugRequest, PayerContext } from '../engine/request';

export const NAIC_SYSTEM = 'urn:oid:2.16.840.1.113883.6.300';
export const PAYER_TYPE_SYSTEM = 'urn:oid:2.16.840.1.113883.3.221.5';
/** The URLs HCPCS codes arrive under (the CMS release page in both schemes, and Blue Button's). One list for PAS and the catalog. */
export const HCPCS_SYSTEMS: readonly string[] = [
  'http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets',
  'https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets',
  'https://bluebutton.cms.gov/resources/codesystem/hcpcs',
];
/** HCPCS codes for "unclassified" drugs: they never identify a drug on their own. */
const UNCLASSIFIED_HCPCS = new Set(['J3490', 'J3590', 'J9999', 'C9399', 'J7599', 'J7699', 'J7799', 'J8499', 'J8999']);

export interface PolicyCatalog {
  readonly policies: readonly PolicyDefinition[];
  get(id: string): PolicyDefinition | undefined;
  byQuestionnaire(canonical: string): PolicyDefinition | undefined;
  select(payer: PayerContext, drug: DrugRequest): PolicySelection;
  /** The payer's display name for a set of payer identifiers, if the catalog serves it. */
  payerName(identifiers: PayerContext['identifiers']): string | undefined;
}

export type PolicySelection =
  | { policy: PolicyDefinition }
  | { policy: null; reason: 'payer' | 'line-of-business' | 'drug'; text: string };

function identifierMatches(payer: PayerContext['identifiers'], policy: PolicyDefinition): boolean {
  return policy.payers.some((p) =>
    p.identifiers.some((id) => payer.some((given) => given.value === id.value && (given.system ?? id.system) === id.system)),
  );
}

/** Source of Payment Typology codes are hierarchical: `21` (Medicaid HMO) is a kind of `2` (Medicaid). */
function lineMatches(line: LineOfBusiness, payer: PayerContext): 'specific' | 'general' | null {
  const typeMatches = payer.lineOfBusiness.some(
    (c) => (c.system === undefined || c.system === PAYER_TYPE_SYSTEM) && typeof c.code === 'string' && c.code.startsWith(line.code),
  );
  if (!typeMatches) return null;
  if (!line.planValues && !line.states) return 'general';
  const plan = line.planValues?.some((v) => payer.planValues.includes(v)) ?? false;
  const memberState = stateCode(payer.state);
  const state = memberState !== undefined && (line.states?.some((s) => stateCode(s) === memberState) ?? false);
  return plan || state ? 'specific' : null;
}

export function drugMatches(policy: PolicyDefinition, codes: Coding[], valueSets: ValueSetIndex): boolean {
  return codes.some(
    (c) =>
      valueSets.contains(policy.drug.valueSet, c) ||
      (c.code !== undefined &&
        !UNCLASSIFIED_HCPCS.has(c.code) &&
        (c.system === undefined || HCPCS_SYSTEMS.includes(c.system)) &&
        policy.drug.hcpcs.includes(c.code)),
  );
}

export function createCatalog(policies: readonly PolicyDefinition[], valueSets: ValueSetIndex): PolicyCatalog {
  return {
    policies,
    get: (id) => policies.find((p) => p.id === id),
    byQuestionnaire: (canonical) => {
      const url = canonical.split('|')[0];
      return policies.find((p) => p.questionnaire === url);
    },
    payerName: (identifiers) => policies.flatMap((p) => p.payers).find((p) => p.identifiers.some((id) => identifiers.some((g) => g.value === id.value && (g.system ?? id.system) === id.system)))?.name,
    select(payer, drug) {
      const forPayer = policies.filter((p) => identifierMatches(payer.identifiers, p));
      if (forPayer.length === 0) {
        return { policy: null, reason: 'payer', text: 'The payer named by the coverage is not served by this catalog.' };
      }
      const forDrug = forPayer.filter((p) => drugMatches(p, drug.codes, valueSets));
      if (forDrug.length === 0) {
        return { policy: null, reason: 'drug', text: 'The catalog has no policy of this payer for the requested drug.' };
      }
      // A plan-specific line (e.g. a Texas Marketplace appendix) wins over the general one.
      const ranked = forDrug
        .map((p) => ({ p, match: p.linesOfBusiness.map((l) => lineMatches(l, payer)) }))
        .map(({ p, match }) => ({ p, rank: match.includes('specific') ? 2 : match.includes('general') ? 1 : 0 }))
        .filter((r) => r.rank > 0)
        .sort((a, b) => b.rank - a.rank);
      const best = ranked[0];
      if (!best) {
        return {
          policy: null,
          reason: 'line-of-business',
          text: "The catalog has no policy for the requested drug in this member's line of business.",
        };
      }
      return { policy: best.p };
    },
  };
}
