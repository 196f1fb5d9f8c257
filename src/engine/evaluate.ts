/**
 * Runs named definitions of a compiled CQL library against one patient's data.
 *
 * Each definition is evaluated on its own (sharing one context, so common sub-expressions are
 * computed once), and an error in one definition is caught and reported as an
 * `ExpressionError` naming the library, definition and CQL position; the other definitions
 * still evaluate. The FHIR model info is parsed once per process and shared.
 */
import { CodeService, Code, DateTime, Date as CqlDate, PatientContext } from 'cql-execution';
import { PatientSource } from 'cql-exec-fhir';
import type { Bundle, Coding } from 'fhir/r4';
import type { LibrarySet } from './libraries';
import type { ValueSetIndex } from '../catalog/terminology';
import type { PriorAuthorization } from './request';

export class ExpressionError extends Error {
  constructor(
    readonly library: string,
    readonly expression: string,
    readonly locator: string | undefined,
    readonly causeMessage: string,
  ) {
    super(`${library}.${JSON.stringify(expression)}${locator ? ` (line ${locator})` : ''}: ${causeMessage}`);
    this.name = 'ExpressionError';
  }
}

export interface CqlInputs {
  orderId?: string;
  phaseHint?: string;
  placeOfService?: Coding;
  /** Coverage.type codings (Source of Payment Typology). */
  lineOfBusiness: Coding[];
  diagnoses: Coding[];
  priorAuthorizations: PriorAuthorization[];
  evaluationDate: Date;
}

export type ExpressionResults = Map<string, { value: unknown } | { error: ExpressionError }>;

// Parsing the FHIR model info costs ~120 ms: do it once. Building a Patient from it is cheap,
// synchronous and independent of the source, so one source serves every evaluation.
let sharedSource: PatientSource | undefined;
function patientSource(): PatientSource {
  sharedSource ??= PatientSource.FHIRv401();
  return sharedSource;
}

/**
 * cql-exec-fhir scans the whole bundle and wraps every resource of the type in a new FHIRObject
 * (a getter per element) on each retrieve, and the engine then reads each record's code through
 * more wrappers to apply the value-set filter. With a policy's dozens of retrieves over a chart of
 * thousands of resources that dominated evaluation time. So, per evaluation: entries are grouped
 * by type once; a coded retrieve first keeps only the raw resources whose codes can match (exact
 * system|code, as cql-execution compares them; a resource whose code cannot be read raw, e.g. a
 * medicationReference, is kept); only those are wrapped, and each result is reused for the same
 * retrieve. The engine still applies its own filter to what is returned, so results are unchanged.
 */
type FhirPatient = NonNullable<ReturnType<PatientSource['currentPatient']>>;
type RetrieveDetails = Parameters<FhirPatient['findRecords']>[1];
interface CodeLike {
  code?: string;
  system?: string;
}

function retrieveCodeKeys(codes: unknown): { key: string; members: Set<string> } | undefined {
  const list = Array.isArray(codes) ? (codes as CodeLike[]) : ((codes as { codes?: CodeLike[] } | undefined)?.codes ?? undefined);
  if (!list) return undefined;
  const vs = codes as { oid?: string; version?: string };
  const members = new Set(list.map((c) => `${c.system ?? ''}|${c.code ?? ''}`));
  const key = Array.isArray(codes) ? [...members].sort().join(',') : `${vs.oid ?? ''}|${vs.version ?? ''}`;
  return { key, members };
}

/** Codings of a raw resource's code property, or undefined when they cannot be read without resolving a reference. */
function rawCodings(resource: Record<string, unknown>, property: string): CodeLike[] | undefined {
  const candidates = [resource[property], resource[`${property}CodeableConcept`], resource[`${property}Coding`]];
  if (resource[`${property}Reference`] !== undefined) return undefined;
  const codings: CodeLike[] = [];
  for (const value of candidates) {
    for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
      const v = item as { coding?: CodeLike[]; code?: string; system?: string };
      if (Array.isArray(v.coding)) codings.push(...v.coding);
      else if (typeof v.code === 'string') codings.push(v);
    }
  }
  return codings;
}

function indexRetrieves(patient: FhirPatient, data: Bundle): void {
  const byType = new Map<string, NonNullable<Bundle['entry']>>();
  for (const entry of data.entry ?? []) {
    const type = entry.resource?.resourceType;
    if (!type) continue;
    let list = byType.get(type);
    if (!list) byType.set(type, (list = []));
    list.push(entry);
  }
  const original = patient.findRecords;
  const internals = patient as unknown as { _modelInfo: unknown; _patientSourceOptions: unknown };
  const cache = new Map<string, ReturnType<FhirPatient['findRecords']>>();
  patient.findRecords = (profile: string, details?: RetrieveDetails) => {
    const datatype = details?.datatype ?? profile;
    const type = datatype.replace(/^\{[^}]*\}/, '');
    const coded = details?.codes && details.codeProperty ? retrieveCodeKeys(details.codes) : undefined;
    const key = `${datatype}|${profile}|${details?.codeProperty ?? ''}|${coded?.key ?? ''}`;
    let records = cache.get(key);
    if (!records) {
      let entries = byType.get(type) ?? [];
      if (coded && details?.codeProperty) {
        const property = details.codeProperty;
        entries = entries.filter((e) => {
          const codings = rawCodings(e.resource as unknown as Record<string, unknown>, property);
          return codings === undefined || codings.some((c) => coded.members.has(`${c.system ?? ''}|${c.code ?? ''}`));
        });
      }
      // The library's own scan, over the narrowed entries (it reads only these three fields).
      // The two fields are non-enumerable on a cql-exec-fhir Patient: a spread would drop them.
      const scope = { _modelInfo: internals._modelInfo, _patientSourceOptions: internals._patientSourceOptions, _bundle: { entry: entries } };
      records = original.call(scope as unknown as FhirPatient, profile, details);
      cache.set(key, records);
    }
    return records;
  };
}

function toCqlCode(coding: Coding | undefined): Code | null {
  if (!coding?.code) return null;
  return new Code(coding.code, coding.system, coding.version, coding.display);
}

function toCqlDate(iso: string): CqlDate {
  const [y, m, d] = iso.slice(0, 10).split('-').map(Number);
  return new CqlDate(y ?? 1900, m ?? 1, d ?? 1);
}

/** Builds the code service for the value sets a library declares, from the catalog expansions. */
export function codeServiceFor(valueSets: ValueSetIndex): CodeService {
  const input: Record<string, Record<string, { code: string; system: string; version?: string }[]>> = {};
  for (const [url, vs] of valueSets.valueSets) {
    const codes = valueSets
      .codes(url)
      .filter((c): c is Coding & { code: string; system: string } => Boolean(c.code && c.system))
      .map((c) => ({ code: c.code, system: c.system }));
    input[url] = { [vs.version ?? '']: codes };
  }
  return new CodeService(input);
}

/** The parameters every policy library may declare; undeclared ones are ignored by the engine. */
function parameters(inputs: CqlInputs): Record<string, unknown> {
  return {
    'Order Id': inputs.orderId ?? null,
    'Request Phase': inputs.phaseHint ?? null,
    'Place Of Service': toCqlCode(inputs.placeOfService),
    'Line Of Business': inputs.lineOfBusiness.map(toCqlCode).filter((c): c is Code => c !== null),
    'Requested Diagnoses': inputs.diagnoses.map(toCqlCode).filter((c): c is Code => c !== null),
    'Prior Authorizations': inputs.priorAuthorizations.map((a) => ({
      number: a.number,
      policyId: a.policyId,
      status: a.status,
      basis: a.basis ?? 'review',
      start: toCqlDate(a.start),
      end: toCqlDate(a.end),
    })),
  };
}

/** Runs definitions of one library against one patient's data, sharing one context across calls. */
export interface EvaluationSession {
  run(expressions: readonly string[]): Promise<ExpressionResults>;
}

/**
 * Loads the patient once and keeps one PatientContext, so definitions evaluated in a later `run`
 * (e.g. the criteria after the continued-therapy check) reuse what earlier ones computed.
 */
export function openSession(
  libraries: LibrarySet,
  libraryName: string,
  data: Bundle,
  inputs: CqlInputs,
  codeService: CodeService,
): EvaluationSession {
  const library = libraries.executable(libraryName);
  const source = patientSource();
  source.reset();
  source.loadBundles([data]);
  const patient = source.currentPatient();
  source.reset();
  if (patient) indexRetrieves(patient, data);

  const declared = new Set((libraries.libraries.get(libraryName)?.elm.library.parameters?.def ?? []).map((p) => p.name));
  const params = Object.fromEntries(Object.entries(parameters(inputs)).filter(([name]) => declared.has(name)));
  const context = new PatientContext(
    library,
    patient,
    codeService,
    params as never,
    DateTime.fromJSDate(inputs.evaluationDate, 0),
  );

  return {
    async run(expressions) {
      const results: ExpressionResults = new Map();
      for (const name of new Set(expressions)) {
        const definition = library.expressions[name];
        if (!definition) {
          results.set(name, {
            error: new ExpressionError(libraryName, name, undefined, 'no such definition in the library'),
          });
          continue;
        }
        try {
          results.set(name, { value: await definition.execute(context) });
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          results.set(name, { error: new ExpressionError(libraryName, name, libraries.locator(libraryName, name), message) });
        }
      }
      return results;
    },
  };
}

export async function evaluateExpressions(
  libraries: LibrarySet,
  libraryName: string,
  expressions: readonly string[],
  data: Bundle,
  inputs: CqlInputs,
  codeService: CodeService,
): Promise<ExpressionResults> {
  return openSession(libraries, libraryName, data, inputs, codeService).run(expressions);
}
