/**
 * The R4 base types and resources as the structure check reads them (src/fhir/structure.ts): for
 * each type, the JSON keys its objects may hold, each with the type it carries, whether it is an
 * array, its cardinality, and which elements are required. Compiled once per type from the R4
 * StructureDefinitions' snapshots, when first needed, so a check looks each key up in a Map
 * instead of walking the definition.
 */
import type { ElementDefinition, ElementDefinitionType, StructureDefinition } from 'fhir/r4';

/** One JSON key of an R4 object. */
export interface R4Property {
  /** The element's path in its definition, e.g. `Condition.onset[x]`. */
  path: string;
  /** What the key carries: an R4 type (`dateTime`, `CodeableConcept`, `Resource`) or an inner element's path (`Claim.item`). */
  type: string;
  primitive: boolean;
  /** JSON array or single value: the element's base maximum (as R4 JSON defines it), not a profile's. */
  array: boolean;
  min: number;
  max: number;
}

export interface R4Type {
  name: string;
  /** By JSON key: a choice element appears once per type (`onsetDateTime`, `onsetAge`…). */
  properties: Map<string, R4Property>;
  /** Elements of minimum cardinality ≥ 1, each with the JSON keys that give it a value. */
  required: { path: string; keys: string[] }[];
}

export const FHIR_TYPE_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type';

/** The JSON value of each R4 primitive type; every other primitive (and FHIRPath's System.String) is a string. */
const PRIMITIVE_JSON: Record<string, 'boolean' | 'number'> = { boolean: 'boolean', decimal: 'number', integer: 'number', positiveInt: 'number', unsignedInt: 'number' };

export function jsonTypeOf(primitive: string): 'string' | 'boolean' | 'number' {
  return PRIMITIVE_JSON[primitive] ?? 'string';
}

function cardinality(max: string | undefined): number {
  return max === undefined ? 1 : max === '*' ? Number.POSITIVE_INFINITY : Number(max);
}

/** `Condition.onset[x]` with type `dateTime` → `onsetDateTime`. */
function keyOf(element: string, type: string, choice: boolean): string {
  if (!choice) return element;
  return element.slice(0, -3) + type.charAt(0).toUpperCase() + type.slice(1);
}

export class R4Types {
  private readonly definitions = new Map<string, StructureDefinition>();
  private readonly primitives = new Set<string>(['http://hl7.org/fhirpath/System.String']);
  private readonly compiled = new Map<string, R4Type>();
  /** For each definition, the paths that have child elements (inner types). */
  private readonly parents = new Map<string, Set<string>>();

  constructor(definitions: readonly StructureDefinition[]) {
    for (const sd of definitions) {
      // Constraints on a type (SimpleQuantity, MoneyQuantity) share its name: the base definition wins.
      if (sd.derivation === 'constraint' || !sd.snapshot) continue;
      this.definitions.set(sd.type, sd);
      if (sd.kind === 'primitive-type') this.primitives.add(sd.type);
    }
  }

  isPrimitive(type: string): boolean {
    return this.primitives.has(type);
  }

  /** A concrete R4 resource type (not Resource or DomainResource). */
  isResourceType(type: string): boolean {
    const sd = this.definitions.get(type);
    return sd?.kind === 'resource' && !sd.abstract;
  }

  /** The compiled type, or undefined when R4 has none of that name. Inner types are named by their path (`Claim.item`). */
  get(name: string): R4Type | undefined {
    let type = this.compiled.get(name);
    if (type) return type;
    const sd = this.definitions.get(name.split('.')[0] ?? name);
    if (!sd || this.primitives.has(name)) return undefined;
    type = this.compile(sd, name);
    this.compiled.set(name, type);
    return type;
  }

  private compile(sd: StructureDefinition, path: string): R4Type {
    const elements = sd.snapshot?.element ?? [];
    const parents = this.parentsOf(sd);
    const properties = new Map<string, R4Property>();
    const required: R4Type['required'] = [];
    for (const element of elements) {
      if (element.sliceName || !element.path.startsWith(`${path}.`) || element.path.indexOf('.', path.length + 1) >= 0) continue;
      const name = element.path.slice(path.length + 1);
      const choice = name.endsWith('[x]');
      const keys: string[] = [];
      for (const type of this.typesOf(element, parents)) {
        const primitive = this.primitives.has(type);
        const key = keyOf(name, type, choice);
        const max = cardinality(element.max);
        properties.set(key, { path: element.path, type, primitive, array: cardinality(element.base?.max ?? element.max) > 1, min: element.min ?? 0, max });
        keys.push(key);
        if (primitive) keys.push(`_${key}`);
      }
      if ((element.min ?? 0) > 0 && keys.length > 0) required.push({ path: element.path, keys });
    }
    return { name: path, properties, required };
  }

  /** The type codes an element's JSON keys carry: inner types by path, FHIRPath's System types by their R4 name. */
  private typesOf(element: ElementDefinition, parents: Set<string>): string[] {
    if (element.contentReference) return [element.contentReference.replace(/^#/, '')];
    return (element.type ?? []).map((t: ElementDefinitionType) => {
      if ((t.code === 'BackboneElement' || t.code === 'Element') && parents.has(element.path)) return element.path;
      const declared = t.extension?.find((e) => e.url === FHIR_TYPE_EXTENSION)?.valueUrl;
      return declared ?? t.code;
    });
  }

  private parentsOf(sd: StructureDefinition): Set<string> {
    let parents = this.parents.get(sd.type);
    if (!parents) {
      parents = new Set();
      for (const element of sd.snapshot?.element ?? []) {
        const dot = element.path.lastIndexOf('.');
        if (dot > 0) parents.add(element.path.slice(0, dot));
      }
      this.parents.set(sd.type, parents);
    }
    return parents;
  }
}
