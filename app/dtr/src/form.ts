/**
 * LHC-Forms (the `lforms` web component, served from /dtr/lforms) as the app uses it: render a
 * Questionnaire with a QuestionnaireResponse, export the answers, check required items, and mark
 * the items whose answers came from the chart.
 */
import type { Questionnaire, QuestionnaireItem, QuestionnaireResponse, QuestionnaireResponseItemAnswer, ValueSet, ValueSetExpansionContains } from 'fhir/r4';
import { answerKey } from './response';

interface LFormsUtil {
  addFormToPage(q: unknown, element: string | HTMLElement, options: unknown): Promise<void>;
  getFormFHIRData(type: string, version: string, element: string | HTMLElement): unknown;
  checkValidity?(element?: string | HTMLElement): string[] | null;
}

function lforms(): LFormsUtil {
  const util = (globalThis as unknown as { LForms?: { Util?: LFormsUtil } }).LForms?.Util;
  if (!util) throw new Error('The form renderer (LHC-Forms) did not load');
  return util;
}

const PREFERRED_TERMINOLOGY_SERVER = 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-preferredTerminologyServer';

/**
 * The Questionnaire as the renderer gets it: each `answerValueSet` the package carries expanded
 * becomes that expansion's `answerOption`s (the package is complete, and LHC-Forms cannot send the
 * payer token with its own `$expand` calls); any other keeps the payer as its terminology server.
 */
export function withTerminologyServer(questionnaire: Questionnaire, payerFhirBase: string, valueSets: readonly ValueSet[] = []): Questionnaire {
  const copy = structuredClone(questionnaire);
  const terminology = { url: PREFERRED_TERMINOLOGY_SERVER, valueUrl: payerFhirBase };
  const expansionOf = (canonical: string): ValueSetExpansionContains[] | undefined => {
    const [url, version] = canonical.split('|');
    const found = valueSets.find((v) => v.url === url && (version === undefined || v.version === version));
    return found?.expansion?.contains?.filter((c) => c.code !== undefined && c.abstract !== true);
  };
  copy.extension = [...(copy.extension ?? []).filter((e) => e.url !== PREFERRED_TERMINOLOGY_SERVER), terminology];
  const mark = (items: QuestionnaireItem[] | undefined): void =>
    (items ?? []).forEach((i) => {
      const contains = i.answerValueSet ? expansionOf(i.answerValueSet) : undefined;
      if (contains && contains.length > 0) {
        i.answerOption = contains.map((c) => ({ valueCoding: { ...(c.system ? { system: c.system } : {}), ...(c.version ? { version: c.version } : {}), code: c.code!, ...(c.display ? { display: c.display } : {}) } }));
        delete i.answerValueSet;
      } else if (i.answerValueSet) {
        i.extension = [...(i.extension ?? []).filter((e) => e.url !== PREFERRED_TERMINOLOGY_SERVER), terminology];
      }
      mark(i.item);
    });
  mark(copy.item);
  return copy;
}

export async function renderForm(container: HTMLElement, questionnaire: Questionnaire, response: QuestionnaireResponse): Promise<void> {
  container.replaceChildren();
  try {
    await lforms().addFormToPage(questionnaire, container, { fhirVersion: 'R4', questionnaireResponse: response });
  } catch (error) {
    const list = Array.isArray(error) ? error : [error];
    throw new Error(`The form could not be shown: ${list.map((e) => (e instanceof Error ? e.message : String(e))).join('; ')}`);
  }
}

export function exportResponse(container: HTMLElement): QuestionnaireResponse {
  return lforms().getFormFHIRData('QuestionnaireResponse', 'R4', container) as QuestionnaireResponse;
}

/** The renderer's messages for required items left empty or invalid values; empty when the form is complete. */
export function formErrors(container: HTMLElement): string[] {
  const check = lforms().checkValidity;
  if (!check) return [];
  return check.call(lforms(), container) ?? [];
}

const attr = (text: string): string => text.replace(/["\\]/g, '\\$&');

/**
 * Adds "from the chart" (or "changed from the chart") to the label of each item pre-populated from
 * the chart, inside the label so that it is part of the question's accessible name.
 */
export function markOrigins(
  container: HTMLElement,
  prefilled: ReadonlyMap<string, QuestionnaireResponseItemAnswer[]>,
  current: ReadonlyMap<string, QuestionnaireResponseItemAnswer[]>,
): void {
  for (const [linkId, answers] of prefilled) {
    const now = current.get(linkId);
    const same = now !== undefined && now.length === answers.length && now.every((a, i) => answerKey(a) === answerKey(answers[i]!));
    for (const label of container.querySelectorAll<HTMLLabelElement>(`label[id^="label-${attr(linkId)}/"]`)) {
      let badge = label.querySelector<HTMLElement>(':scope > .dtr-origin');
      if (!badge) {
        badge = document.createElement('span');
        label.append(badge);
      }
      const text = same ? 'from the chart' : 'changed from the chart';
      if (badge.textContent !== ` (${text})`) {
        badge.textContent = ` (${text})`;
        badge.className = `dtr-origin ${same ? 'dtr-origin-chart' : 'dtr-origin-changed'}`;
      }
    }
  }
}
