/**
 * The QuestionnaireResponse the app saves to the EHR (DTR 2.0.1 dtr-questionnaireresponse): the
 * package's draft (profile, `qr-context` order and coverage, `intendedUse`, questionnaire, subject)
 * with the answers the renderer exports, each answer carrying `information-origin`: `auto` when
 * it is the value pre-populated from the chart, `override` when the clinician changed a
 * pre-populated answer, `manual` otherwise. Pure: no I/O, no DOM.
 */
import type { QuestionnaireResponse, QuestionnaireResponseItem, QuestionnaireResponseItemAnswer, Reference } from 'fhir/r4';
import { DTR_PROFILE, EXT } from '../../../src/dtr/urls';

export type Origin = 'auto' | 'override' | 'manual';

/** The value of an answer, comparable across renderer exports (codings by system and code). */
export function answerKey(answer: QuestionnaireResponseItemAnswer): string {
  const entries = Object.entries(answer).filter(([k]) => k.startsWith('value'));
  return JSON.stringify(
    entries.map(([k, v]) => {
      if (k === 'valueCoding') return [k, { system: (v as { system?: string }).system ?? '', code: (v as { code?: string }).code ?? '' }];
      if (k === 'valueQuantity') return [k, { value: (v as { value?: number }).value, code: (v as { code?: string; unit?: string }).code ?? (v as { unit?: string }).unit }];
      return [k, v];
    }),
  );
}

export function originOf(linkId: string, answer: QuestionnaireResponseItemAnswer, prefilled: ReadonlyMap<string, QuestionnaireResponseItemAnswer[]>): Origin {
  const from = prefilled.get(linkId);
  if (!from) return 'manual';
  return from.some((p) => answerKey(p) === answerKey(answer)) ? 'auto' : 'override';
}

function withOrigin(answer: QuestionnaireResponseItemAnswer, origin: Origin): QuestionnaireResponseItemAnswer {
  const others = (answer.extension ?? []).filter((e) => e.url !== EXT.informationOrigin);
  return { ...answer, extension: [...others, { url: EXT.informationOrigin, extension: [{ url: 'source', valueCode: origin }] }] };
}

function marked(items: QuestionnaireResponseItem[] | undefined, prefilled: ReadonlyMap<string, QuestionnaireResponseItemAnswer[]>): QuestionnaireResponseItem[] {
  return (items ?? []).map((item) => {
    const out: QuestionnaireResponseItem = { ...item };
    if (item.answer) {
      out.answer = item.answer.map((a) => {
        const answer = withOrigin(a, originOf(item.linkId, a, prefilled));
        if (a.item) answer.item = marked(a.item, prefilled);
        return answer;
      });
    }
    if (item.item) out.item = marked(item.item, prefilled);
    return out;
  });
}

/** Answers by linkId, nested items included. */
export function answersByLinkId(items: QuestionnaireResponseItem[] | undefined, into = new Map<string, QuestionnaireResponseItemAnswer[]>()): Map<string, QuestionnaireResponseItemAnswer[]> {
  for (const item of items ?? []) {
    if (item.answer?.length) into.set(item.linkId, item.answer);
    answersByLinkId(item.item, into);
    for (const answer of item.answer ?? []) answersByLinkId(answer.item, into);
  }
  return into;
}

export interface ResponseInput {
  /** The package's draft (or the draft saved in the EHR): profile, context, questionnaire, subject. */
  draft: QuestionnaireResponse;
  /** What the renderer exports now. */
  exported: QuestionnaireResponse;
  /** Answers pre-populated from the chart, by linkId. */
  prefilled: ReadonlyMap<string, QuestionnaireResponseItemAnswer[]>;
  status: 'in-progress' | 'completed';
  /** The EHR's id once created. */
  id?: string;
  author?: Reference;
  now: Date;
}

export function buildResponse(input: ResponseInput): QuestionnaireResponse {
  const { draft } = input;
  const profiles = draft.meta?.profile ?? [];
  const response: QuestionnaireResponse = {
    resourceType: 'QuestionnaireResponse',
    meta: { profile: profiles.includes(DTR_PROFILE.questionnaireResponse) ? profiles : [...profiles, DTR_PROFILE.questionnaireResponse] },
    status: input.status,
    authored: input.now.toISOString(),
    item: marked(input.exported.item, input.prefilled),
  };
  if (input.id) response.id = input.id;
  if (draft.extension) response.extension = draft.extension;
  // An adaptive response names its form as `#id` of the Questionnaire it contains.
  if (draft.contained) response.contained = draft.contained;
  if (draft.questionnaire) response.questionnaire = draft.questionnaire;
  if (draft.subject) response.subject = draft.subject;
  if (input.author) response.author = input.author;
  return response;
}

/** The QuestionnaireResponse to hand the renderer: the draft's skeleton with these answers. */
export function prefilledResponse(draft: QuestionnaireResponse, answers: ReadonlyMap<string, QuestionnaireResponseItemAnswer[]>): QuestionnaireResponse {
  const fill = (items: QuestionnaireResponseItem[] | undefined): QuestionnaireResponseItem[] =>
    (items ?? [])
      .map((item): QuestionnaireResponseItem => {
        const out: QuestionnaireResponseItem = { linkId: item.linkId };
        if (item.text) out.text = item.text;
        const given = answers.get(item.linkId);
        if (given) out.answer = given;
        const children = fill(item.item);
        if (children.length > 0) out.item = children;
        return out;
      })
      .filter((i) => i.answer?.length || i.item?.length);
  return { ...draft, item: fill(draft.item) };
}

/** Answers the server marked `information-origin` `auto` (pre-filled from the chart), by linkId. */
export function autoAnswers(items: QuestionnaireResponseItem[] | undefined): Map<string, QuestionnaireResponseItemAnswer[]> {
  const auto = new Map<string, QuestionnaireResponseItemAnswer[]>();
  for (const [linkId, answers] of answersByLinkId(items)) {
    const chart = answers.filter((a) => a.extension?.some((e) => e.url === EXT.informationOrigin && e.extension?.some((x) => x.url === 'source' && x.valueCode === 'auto')));
    if (chart.length > 0) auto.set(linkId, chart.map(({ extension: _ext, item: _item, ...value }) => value));
  }
  return auto;
}
