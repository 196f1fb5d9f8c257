/**
 * Pre-population in the browser, as DTR 2.0.1 describes for DTR apps: the Questionnaire's
 * `initialExpression`s are run by cql-execution + cql-exec-fhir with only what the
 * `$questionnaire-package` Bundle carries (its Libraries' ELM, its ValueSet expansions) against
 * the patient's record read from the EHR's FHIR API with the user's token. The item → definition
 * mapping and the CQL value → answer conversion are the server's own (src/dtr/prepopulate.ts), so
 * `$populate` and the app answer alike; what differs is where the libraries, the code lists and
 * the chart come from. A Library or ValueSet missing from the package makes pre-population fail
 * here, in the open, instead of silently using the server's copy.
 */
import type { Bundle, Coverage, DataRequirement, FhirResource, Library, OperationOutcomeIssue, Questionnaire, QuestionnaireResponseItemAnswer, Resource, ValueSet } from 'fhir/r4';
import { CodeService } from 'cql-execution';
import { evaluateExpressions } from '../../../src/engine/evaluate';
import { librarySetOf, type ElmJson, type ElmLibrary, type LibrarySet } from '../../../src/engine/libraries';
import type { ArtifactRepository } from '../../../src/dtr/artifacts';
import { populateAnswers, type PopulationEngine } from '../../../src/dtr/prepopulate';
import { DEFAULT_PAYER_TIME_ZONE } from '../../../src/core/dates';

export interface PackageContent {
  questionnaire: Questionnaire;
  libraries: Library[];
  valueSets: ValueSet[];
}

const canonicalUrl = (canonical: string): string => canonical.split('|')[0] ?? canonical;

function decodeBase64Utf8(data: string): string {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The ELM of each package Library (content `application/elm+json`); a Library without ELM is an error. */
export function packageElm(libraries: Library[]): ElmJson[] {
  return libraries.map((library) => {
    const data = library.content?.find((c) => c.contentType === 'application/elm+json')?.data;
    if (!data) throw new Error(`Library ${library.url ?? library.name ?? '?'} in the package has no ELM (application/elm+json): it cannot be run here`);
    return JSON.parse(decodeBase64Utf8(data)) as ElmJson;
  });
}

/** The engine's LibrarySet over the package's ELM. */
export function packageLibraries(elms: ElmJson[]): LibrarySet {
  const libraries = new Map<string, ElmLibrary>(elms.map((elm) => [elm.library.identifier.id, { name: elm.library.identifier.id, version: elm.library.identifier.version, elm }]));
  return librarySetOf(libraries, () => 'it is not in the questionnaire package');
}

/** Code lists for the CQL value sets, from the package's expansions only. */
export function codeServiceOf(valueSets: ValueSet[]): CodeService {
  const input: Record<string, Record<string, { code: string; system: string }[]>> = {};
  for (const vs of valueSets) {
    if (!vs.url) continue;
    const codes = (vs.expansion?.contains ?? [])
      .filter((c): c is typeof c & { code: string; system: string } => Boolean(c.code && c.system))
      .map((c) => ({ code: c.code, system: c.system }));
    input[vs.url] = { ...(input[vs.url] ?? {}), [vs.version ?? '']: codes };
  }
  return new CodeService(input);
}

/** The slice of the artifact repository pre-population reads (library names, answer lists), over the package. */
function packageArtifacts(content: PackageContent): ArtifactRepository {
  const find = <T extends Library | ValueSet>(list: T[], canonical: string): T | undefined => list.find((r) => r.url === canonicalUrl(canonical));
  const slice = {
    byCanonical: (type: string, canonical: string) => (type === 'Library' ? find(content.libraries, canonical) : type === 'ValueSet' ? find(content.valueSets, canonical) : undefined),
    expandValueSet: (canonical: string) => find(content.valueSets, canonical),
  };
  // populateAnswers reads only these two methods of the repository.
  return slice as unknown as ArtifactRepository;
}

export interface PopulationInput {
  chart: Bundle;
  patientId: string;
  order: Resource;
  coverage: Coverage;
  evaluationDate: Date;
}

/** Runs the package's CQL for every initialExpression; answers by linkId and the problems met. */
export async function populateInBrowser(
  content: PackageContent,
  input: PopulationInput,
): Promise<{ answers: Map<string, QuestionnaireResponseItemAnswer[]>; issues: OperationOutcomeIssue[] }> {
  const elms = packageElm(content.libraries);
  const libraries = packageLibraries(elms);
  // The package does not name the payer's zone, so CQL's Now() is the default payer zone's (as the server's by default).
  const codeService = codeServiceOf(content.valueSets);
  const engine: PopulationEngine = {
    libraries,
    timeZone: DEFAULT_PAYER_TIME_ZONE,
    evaluateDefinitions: (library, definitions, data, inputs) => evaluateExpressions(libraries, library, definitions, data, inputs, codeService),
  };
  const result = await populateAnswers(content.questionnaire, { data: input.chart, patientId: input.patientId, order: input.order, coverage: input.coverage, evaluationDate: input.evaluationDate }, { engine, artifacts: packageArtifacts(content) });
  // A value set the CQL names but the package lacks matches nothing: say so rather than answer "no".
  const have = new Set(content.valueSets.map((v) => v.url));
  for (const elm of elms) {
    for (const def of (elm.library as { valueSets?: { def?: { id: string }[] } }).valueSets?.def ?? []) {
      if (!have.has(canonicalUrl(def.id))) {
        result.issues.push({ severity: 'warning', code: 'not-found', diagnostics: `The package lacks ValueSet ${def.id}, which Library ${elm.library.identifier.id} uses: answers that depend on it may be missing or wrong` });
      }
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// What to read from the EHR

/** Types the CQL reads that are not searched by patient: they are read by reference. */
const BY_REFERENCE = new Set(['Patient', 'Practitioner', 'PractitionerRole', 'Organization', 'Location', 'Medication', 'Coverage']);

/** The resource types the package's Libraries retrieve (their `dataRequirement`), sorted. */
export function requiredTypes(libraries: Library[]): string[] {
  const types = new Set(libraries.flatMap((l) => (l.dataRequirement ?? []).map((d: DataRequirement) => d.type)));
  return [...types].sort();
}

/** Searches to run against the EHR for the patient: one per type that is searched by patient. */
export function chartSearches(types: string[], patientId: string): string[] {
  return types.filter((t) => !BY_REFERENCE.has(t)).map((t) => `${t}?patient=${encodeURIComponent(patientId)}`);
}

/** One collection Bundle of resources, each once (by type and id). */
export function chartBundle(resources: (FhirResource | undefined)[]): Bundle {
  const seen = new Set<string>();
  const entry: Bundle['entry'] = [];
  for (const resource of resources) {
    if (!resource?.id) continue;
    const key = `${resource.resourceType}/${resource.id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    entry.push({ fullUrl: key, resource });
  }
  return { resourceType: 'Bundle', type: 'collection', entry };
}
