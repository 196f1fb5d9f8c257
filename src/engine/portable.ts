/**
 * CQL results as plain data, so that definitions evaluated on a worker thread come back to the
 * main thread (structured clone keeps no classes): CQL Code, Concept, Date, DateTime and Quantity
 * are tagged and rebuilt; cql-exec-fhir's FHIR objects travel as their JSON (`_json`, which is all
 * that readers of a FHIR-typed result use); lists and tuples recursively. An expression error
 * travels as its fields.
 */
import { Code, Concept, Date as CqlDate, DateTime, Quantity } from 'cql-execution';
import { ExpressionError, type ExpressionResults } from './evaluate';

type Portable = null | boolean | number | string | Portable[] | { [key: string]: Portable };
type PortableResult = [name: string, { value: Portable } | { error: { library: string; expression: string; locator: string | undefined; causeMessage: string } }];

const TAG = '$cql';

function encode(value: unknown): Portable {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object') return typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint' ? null : (value as Portable);
  if (Array.isArray(value)) return value.map(encode);
  if (value instanceof Code) return { [TAG]: 'Code', code: value.code, system: value.system ?? null, version: value.version ?? null, display: value.display ?? null };
  if (value instanceof Concept) return { [TAG]: 'Concept', codes: value.codes.map(encode), display: value.display ?? null };
  if (value instanceof DateTime) return { [TAG]: 'DateTime', text: value.toString() };
  if (value instanceof CqlDate) return { [TAG]: 'Date', text: value.toString() };
  if (value instanceof Quantity) return { [TAG]: 'Quantity', value: value.value ?? null, unit: value.unit ?? null };
  const fhir = value as { _json?: unknown; _typeInfo?: { name?: string } };
  if (fhir._json !== undefined) return { _json: structuredClone(fhir._json) as Portable, _typeInfo: { name: fhir._typeInfo?.name ?? null } };
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v)]));
}

function decode(value: Portable): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(decode);
  const str = (v: Portable | undefined): string | undefined => (typeof v === 'string' ? v : undefined);
  switch (value[TAG]) {
    case 'Code':
      return new Code(str(value.code) ?? '', str(value.system), str(value.version), str(value.display));
    case 'Concept':
      return new Concept((value.codes as Portable[]).map(decode) as Code[], str(value.display));
    case 'DateTime':
      return DateTime.parse(str(value.text) ?? '');
    case 'Date':
      return CqlDate.parse(str(value.text) ?? '');
    case 'Quantity':
      return new Quantity(value.value as number, str(value.unit));
    default:
      if ('_json' in value) return value;
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v)]));
  }
}

export function toPortable(results: ExpressionResults): PortableResult[] {
  return [...results].map(([name, result]): PortableResult => {
    if ('error' in result) {
      const { library, expression, locator, causeMessage } = result.error;
      return [name, { error: { library, expression, locator, causeMessage } }];
    }
    return [name, { value: encode(result.value) }];
  });
}

export function fromPortable(results: PortableResult[]): ExpressionResults {
  return new Map(
    results.map(([name, result]) => [
      name,
      'error' in result
        ? { error: new ExpressionError(result.error.library, result.error.expression, result.error.locator, result.error.causeMessage) }
        : { value: decode(result.value) },
    ]),
  );
}

export type { PortableResult };
