/**
 * The adaptive entry point of each policy form: the DTR 2.0.1 `dtr-questionnaire-adapt-search`
 * Questionnaire a `$questionnaire-package` returns when the client asks for the adaptive form
 * (DTR 2.0.1 OperationDefinition questionnaire-package: "for adaptive questionnaires, there will be
 * no question items"), which the DTR client then drives through `Questionnaire/$next-question`.
 *
 * A client asks for it by its canonical: the policy form's url + `-adaptive`, same version. It is
 * derived from the published form (not a file of its own): no items, `questionnaireAdaptive` true,
 * `derivedFrom` the form. `$next-question` maps it back to the form's policy.
 */
import type { Questionnaire } from 'fhir/r4';
import type { ArtifactRepository } from './artifacts';
import { splitCanonical } from './urls';

export const ADAPTIVE_SUFFIX = '-adaptive';
export const ADAPT_SEARCH_PROFILE = 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-questionnaire-adapt-search';
const QUESTIONNAIRE_ADAPTIVE = 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-questionnaireAdaptive';

/** The canonical of the policy form an adaptive canonical stands for, or undefined when it is not one. */
export function formCanonicalOf(canonical: string): string | undefined {
  const { url, version } = splitCanonical(canonical.trim());
  if (!url.endsWith(ADAPTIVE_SUFFIX)) return undefined;
  const base = url.slice(0, -ADAPTIVE_SUFFIX.length);
  return version ? `${base}|${version}` : base;
}

/** The adapt-search Questionnaire for an adaptive canonical of a published form, or undefined. */
export function adaptiveForm(canonical: string, artifacts: Pick<ArtifactRepository, 'byCanonical'>): Questionnaire | undefined {
  const formCanonical = formCanonicalOf(canonical);
  const form = formCanonical ? artifacts.byCanonical('Questionnaire', formCanonical) : undefined;
  if (!form?.url) return undefined;
  return {
    resourceType: 'Questionnaire',
    ...(form.id ? { id: `${form.id}${ADAPTIVE_SUFFIX}` } : {}),
    meta: { profile: [ADAPT_SEARCH_PROFILE], ...(form.meta?.lastUpdated ? { lastUpdated: form.meta.lastUpdated } : {}) },
    extension: [{ url: QUESTIONNAIRE_ADAPTIVE, valueBoolean: true }],
    url: `${form.url}${ADAPTIVE_SUFFIX}`,
    ...(form.version ? { version: form.version } : {}),
    ...(form.name ? { name: `${form.name}Adaptive` } : {}),
    title: `${form.title ?? form.name ?? 'Prior authorization documentation'} (adaptive)`,
    status: form.status,
    subjectType: ['Patient'],
    derivedFrom: [form.version ? `${form.url}|${form.version}` : form.url],
    ...(form.effectivePeriod ? { effectivePeriod: form.effectivePeriod } : {}),
    description: 'Adaptive form: ask Questionnaire/$next-question for the questions, one policy criterion at a time.',
  };
}
