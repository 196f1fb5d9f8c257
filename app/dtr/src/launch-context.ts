/**
 * What the EHR told the app at launch (SMART App Launch 2.0 token response): the patient, the
 * `fhirContext` references, and the DTR `appContext` a CRD card carried (DTR 2.0.1: the
 * coverage-assertion id, the questionnaire canonical(s), the order, the coverage and a
 * QuestionnaireResponse to resume). `appContext` is a JSON string; a value that is not JSON is
 * kept as is and ignored. Pure: no I/O.
 */

import { isRecord } from '../../../src/fhir/json';
import { parseReference } from '../../../src/fhir/reference';

type Json = Record<string, unknown>;

export interface LaunchContext {
  patientId?: string;
  /** `MedicationRequest/…` (or another order type) the documentation is for. */
  order?: string;
  coverage?: string;
  /** A QuestionnaireResponse to resume (relaunch). */
  response?: string;
  questionnaires: string[];
  coverageAssertionId?: string;
  /** `crdlaunch` (appContext from a CRD card), `relaunch` (a response to resume) or `salaunch`. */
  mode: 'crdlaunch' | 'relaunch' | 'salaunch';
}

export const ORDER_TYPES = ['MedicationRequest', 'ServiceRequest', 'DeviceRequest', 'NutritionOrder'];

const strings = (v: unknown): string[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter((s): s is string => typeof s === 'string' && s !== '');

/** `Type/id` of a relative or absolute reference (`…/fhir/Type/id` → `Type/id`); undefined otherwise. */
export function relativeReference(reference: string | undefined): string | undefined {
  const parsed = parseReference(reference);
  return parsed ? `${parsed.resourceType}/${parsed.id}` : undefined;
}

const typeOf = (reference: string | undefined): string | undefined => reference?.split('/')[0];

/** appContext as an object; undefined when absent or not a JSON object. */
export function parseAppContext(raw: unknown): Json | undefined {
  if (isRecord(raw)) return raw;
  if (typeof raw !== 'string' || raw.trim() === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export function readLaunchContext(token: Json): LaunchContext {
  const app = parseAppContext(token.appContext) ?? {};
  const fhirContext = (Array.isArray(token.fhirContext) ? token.fhirContext : [])
    .filter(isRecord)
    .map((c) => relativeReference(typeof c.reference === 'string' ? c.reference : typeof c.type === 'string' && typeof c.id === 'string' ? `${c.type}/${c.id}` : undefined))
    .filter((r): r is string => r !== undefined);
  // An order given as JSON content (DTR allows it) is read by its id; the app reads orders from the EHR.
  const orderFromApp = strings(app.order).map((o) => {
    if (o.trim().startsWith('{')) {
      const parsed = parseAppContext(o);
      return parsed && typeof parsed.resourceType === 'string' && typeof parsed.id === 'string' ? `${parsed.resourceType}/${parsed.id}` : undefined;
    }
    return relativeReference(o);
  });
  const order = [...orderFromApp, ...fhirContext].find((r) => r !== undefined && ORDER_TYPES.includes(typeOf(r) ?? ''));
  const coverage = [...strings(app.coverage).map(relativeReference), ...fhirContext].find((r) => typeOf(r) === 'Coverage');
  const response = [...strings(app.response).map(relativeReference), ...fhirContext].find((r) => typeOf(r) === 'QuestionnaireResponse');
  const coverageAssertionId = strings(app.coverageAssertionId)[0];
  const context: LaunchContext = {
    questionnaires: strings(app.questionnaire),
    mode: response ? 'relaunch' : coverageAssertionId || strings(app.questionnaire).length > 0 ? 'crdlaunch' : 'salaunch',
  };
  if (typeof token.patient === 'string' && token.patient !== '') context.patientId = token.patient;
  if (order) context.order = order;
  if (coverage) context.coverage = coverage;
  if (response) context.response = response;
  if (coverageAssertionId) context.coverageAssertionId = coverageAssertionId;
  return context;
}
