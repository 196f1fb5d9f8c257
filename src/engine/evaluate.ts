/**
 * Runs named definitions of a compiled CQL library against one patient's data.
 *
 * Each definition is evaluated on its own (sharing one context, so common sub-expressions are
 * computed once), and an error in one definition is caught and reported as an
 * `ExpressionError` naming the library, definition and CQL position; the other definitions
 * still evaluate. The patient's data goes through an IndexedPatient (./data-provider).
 */
import { type CodeService, Code, DateTime, Date as CqlDate, PatientContext } from 'cql-execution';
import type { Bundle, Coding } from 'fhir/r4';
import type { LibrarySet } from './libraries';
import type { PriorAuthorization } from './request';
import { EvaluationTimeout, IndexedPatient } from './data-provider';
import { DEFAULT_PAYER_TIME_ZONE, utcOffsetHours } from '../core/dates';

export { codeServiceFor } from './terminology';

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
  /** The payer's time zone (default America/New_York): CQL's Now() and Today() are the request's instant there. */
  timeZone?: string;
}

export type ExpressionResults = Map<string, { value: unknown } | { error: ExpressionError }>;

function toCqlCode(coding: Coding | undefined): Code | null {
  if (!coding?.code) return null;
  return new Code(coding.code, coding.system, coding.version, coding.display);
}

function toCqlDate(iso: string): CqlDate {
  const [y, m, d] = iso.slice(0, 10).split('-').map(Number);
  return new CqlDate(y ?? 1900, m ?? 1, d ?? 1);
}

/** The parameters every policy library may declare; undeclared ones are ignored by the engine. */
export function cqlParameters(inputs: CqlInputs): Record<string, unknown> {
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
  /** `performance.now()` after which the remaining definitions fail (unknown, with a warning). */
  deadline = Infinity,
): EvaluationSession {
  const library = libraries.executable(libraryName);
  const patient = new IndexedPatient(data, { deadline, wrapper: libraries.wrapper });

  const declared = new Set((libraries.libraries.get(libraryName)?.elm.library.parameters?.def ?? []).map((p) => p.name));
  const params = Object.fromEntries(Object.entries(cqlParameters(inputs)).filter(([name]) => declared.has(name)));
  const context = new PatientContext(
    library,
    patient,
    codeService,
    params as never,
    // The execution date-time carries the payer's offset, so CQL's Today() is the decision's today.
    DateTime.fromJSDate(inputs.evaluationDate, utcOffsetHours(inputs.evaluationDate, inputs.timeZone ?? DEFAULT_PAYER_TIME_ZONE)),
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
        if (performance.now() > deadline) {
          results.set(name, { error: new ExpressionError(libraryName, name, undefined, new EvaluationTimeout().message) });
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
