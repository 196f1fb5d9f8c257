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
    'Requested Diagnoses': inputs.diagnoses.map(toCqlCode).filter((c): c is Code => c !== null),
    'Prior Authorizations': inputs.priorAuthorizations.map((a) => ({
      number: a.number,
      policyId: a.policyId,
      status: a.status,
      start: toCqlDate(a.start),
      end: toCqlDate(a.end),
    })),
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
  const library = libraries.executable(libraryName);
  const source = patientSource();
  source.reset();
  source.loadBundles([data]);
  const patient = source.currentPatient();
  source.reset();

  const declared = new Set((libraries.libraries.get(libraryName)?.elm.library.parameters?.def ?? []).map((p) => p.name));
  const params = Object.fromEntries(Object.entries(parameters(inputs)).filter(([name]) => declared.has(name)));
  const context = new PatientContext(
    library,
    patient,
    codeService,
    params as never,
    DateTime.fromJSDate(inputs.evaluationDate, 0),
  );

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
}
