/**
 * Which Coverage a hook answers for, and the neutral answer when there is none this service can
 * speak about.
 *
 * CRD 2.0.1 hooks.md ("error" rules): a 4xx/5xx is for errors only — 400 when the request is not
 * JSON, 422 when it does not conform. A patient with no active Coverage, several, or one of a payer
 * this service does not serve is none of these: CDS Hooks 2.0 answers 200 and, with nothing to
 * assert, no system action. We add one `info` card so the EHR can tell the user why no coverage
 * requirements came back (a CRD card SHALL carry a topic; `coverage-info`, CRD cards.md).
 * CRD 2.0.1 foundation.md: clients SHOULD send only the Coverages relevant to the service, so when
 * several active Coverages arrive and exactly one is of a payer we serve, that one is answered for.
 */
import { randomUUID } from 'node:crypto';
import type { Coverage, Organization } from 'fhir/r4';
import type { PayerContext } from '../engine/request';
import type { PolicyCatalog } from '../catalog/catalog';
import { OperationOutcomeError } from '../fhir/outcomes';
import { activeCoverages, resolvePayer, type PatientData } from './data';
import { PREFETCH_KEYS } from './discovery';
import { parseReference } from '../fhir/reference';
import { resourcesOfType } from '../fhir/bundle-index';
import { topicCoding, type CdsServiceResponse, type CrdVersion } from './types';

export interface ServedCoverage {
  coverage: Coverage;
  payer: PayerContext;
  payerName: string;
}

export type NeutralReason = 'no-coverage' | 'coverage-unreadable' | 'several-coverages' | 'payer-unidentified' | 'payer-not-served';

export type CoverageSelection = { served: ServedCoverage } | { neutral: NeutralReason; label: string };

/** The Organization name or `payor.display` of a Coverage, for the card's source label. */
function payorName(coverage: Coverage, data: PatientData): string | undefined {
  for (const payor of coverage.payor ?? []) {
    const ref = parseReference(payor.reference);
    const org = payor.reference?.startsWith('#')
      ? coverage.contained?.find((c): c is Organization => c.resourceType === 'Organization' && `#${c.id ?? ''}` === payor.reference)
      : resourcesOfType<Organization>(data.bundle, 'Organization').find((r) => r.id === ref?.id);
    if (org?.name) return org.name;
    if (payor.display) return payor.display;
  }
  return undefined;
}

/** The active Coverage of a payer this service serves, or why there is none. */
export async function selectCoverage(data: PatientData, on: Date, catalog: Pick<PolicyCatalog, 'payerName'>): Promise<CoverageSelection> {
  const candidates = activeCoverages(data, on);
  const generic = 'Coverage Requirements Discovery';
  if (candidates.length === 0) {
    return { neutral: data.sources[PREFETCH_KEYS.coverage] === 'failed' ? 'coverage-unreadable' : 'no-coverage', label: generic };
  }
  const served: ServedCoverage[] = [];
  let unidentified = 0;
  for (const coverage of candidates) {
    let payer: PayerContext;
    try {
      payer = await resolvePayer(coverage, data);
    } catch (error) {
      if (!(error instanceof OperationOutcomeError)) throw error;
      unidentified += 1;
      continue;
    }
    const payerName = catalog.payerName(payer.identifiers);
    if (payerName) served.push({ coverage, payer, payerName });
  }
  if (served.length === 1) return { served: served[0] as ServedCoverage };
  if (served.length > 1) return { neutral: 'several-coverages', label: generic };
  const first = candidates[0] as Coverage;
  if (unidentified === candidates.length) return { neutral: 'payer-unidentified', label: payorName(first, data) ?? generic };
  return { neutral: 'payer-not-served', label: candidates.length === 1 ? (payorName(first, data) ?? generic) : generic };
}

const NEUTRAL_TEXT: Record<NeutralReason, { summary: string; detail: string }> = {
  'no-coverage': {
    summary: 'No coverage requirements: no active coverage was found for this patient',
    detail: 'No active Coverage was sent or could be read for the patient, so no prior-authorization requirements were checked.',
  },
  'coverage-unreadable': {
    summary: "No coverage requirements: the patient's coverage could not be read",
    detail: "The EHR reported a problem reading the patient's Coverage, so no prior-authorization requirements were checked.",
  },
  'several-coverages': {
    summary: 'No coverage requirements: several active coverages with plans served here',
    detail: 'Send the one Coverage the order is billed to; coverage requirements are answered for a single primary Coverage.',
  },
  'payer-unidentified': {
    summary: "No coverage requirements: the coverage does not identify its payer",
    detail: 'Coverage.payor names no payer identifier (nor an Organization that has one), so the payer and its policies are unknown.',
  },
  'payer-not-served': {
    summary: "No coverage requirements from this service for the patient's payer",
    detail: "The patient's active coverage is with a payer this service does not answer for; ask that payer for its requirements.",
  },
};

/** The 200 answer with no system action and one info card saying why. */
export function neutralResponse(selection: { neutral: NeutralReason; label: string }, version: CrdVersion): CdsServiceResponse {
  const text = NEUTRAL_TEXT[selection.neutral];
  return {
    cards: [
      {
        uuid: randomUUID(),
        summary: text.summary,
        detail: text.detail,
        indicator: 'info',
        source: { label: selection.label, topic: topicCoding('coverage-info', version) },
      },
    ],
  };
}
