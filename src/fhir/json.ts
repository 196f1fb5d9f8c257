/**
 * Defensive reads of FHIR JSON for code that may meet data nobody validated (a FHIR server's
 * answer, a chart bundle from the CLI): an element the types call an array is read as one only
 * when it is one, and only its object members are kept.
 */
export function objects<T>(value: readonly T[] | T | undefined | null): T[] {
  return Array.isArray(value) ? (value as unknown[]).filter((v): v is T => typeof v === 'object' && v !== null) : [];
}

/** The codings of a CodeableConcept, or none when it is not one. */
export function codingsOf<C>(concept: { coding?: C[] } | undefined | null): C[] {
  return typeof concept === 'object' && concept !== null ? objects(concept.coding) : [];
}

/** A JSON object (not an array, not null): the one type guard for untyped request bodies. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
