/**
 * The DTR app page (/dtr/): finishes the SMART launch, reads the order and coverage from the EHR,
 * gets the payer's questionnaire package, pre-populates it by running the package's CQL in the
 * browser against the EHR, shows it with LHC-Forms, keeps the QuestionnaireResponse saved in the
 * EHR as a draft while the form is open, completes it, and submits the prior authorization (PAS)
 * or hands back to the EHR.
 *
 * Answers are never lost: every change is kept in this tab's sessionStorage before it is sent to
 * the EHR, so a failed save (expired session, EHR error) keeps them, and a relaunch restores them.
 */
import FHIR from 'fhirclient';
import type Client from 'fhirclient/lib/Client';
import type {
  Bundle,
  Coverage,
  Extension,
  FhirResource,
  Library,
  MedicationRequest,
  Organization,
  Patient,
  Practitioner,
  PractitionerRole,
  Questionnaire,
  QuestionnaireResponse,
  QuestionnaireResponseItemAnswer,
  Reference,
  ValueSet,
} from 'fhir/r4';
import { EXT } from '../../../src/dtr/urls';
import { formErrors, exportResponse, markOrigins, renderForm, withTerminologyServer } from './form';
import { AppError, ehrError, ehrRead, ehrSave, ehrSearch, payerPost, readPackage, type PayerCredentials } from './io';
import { payerAuth } from './payer-auth';
import { ORDER_TYPES, readLaunchContext, relativeReference, type LaunchContext } from './launch-context';
import { buildPasRequest, readPasResponse, type OrderLike, type PasResult } from './pas';
import { chartBundle, chartSearches, populateInBrowser, requiredTypes, type PackageContent } from './population';
import { answersByLinkId, autoAnswers, buildResponse, prefilledResponse } from './response';
import { containedForm, derivedFromUrl, isAdaptive } from './adaptive';

interface AppConfig {
  clientId: string;
  scope: string;
  payerFhirBase: string;
  /** Set when the payer's /fhir needs a token: its token endpoint (token exchange of the EHR launch). */
  payerTokenUrl?: string;
}

interface Session {
  client: Client;
  config: AppConfig;
  /** The payer token, when the payer requires one. */
  payer?: PayerCredentials;
  ehrBase: string;
  context: LaunchContext;
  patient: Patient;
  order: OrderLike & FhirResource;
  coverage: Coverage;
  content: PackageContent;
  /** The package's draft response: profile, context, questionnaire, subject, item skeleton. */
  draft: QuestionnaireResponse;
  /** Answers pre-populated from the chart, by linkId. */
  prefilled: Map<string, QuestionnaireResponseItemAnswer[]>;
  /** Chart resources the criteria read (sent with the PAS request). */
  chart: FhirResource[];
  author?: Reference;
  /** The EHR's id of the saved QuestionnaireResponse. */
  responseId?: string;
  completed: boolean;
  /** Set for an adaptive form: `done` once `$next-question` answered `completed`. */
  adaptive?: { done: boolean };
}

// ---------------------------------------------------------------------------------------------
// Page

const $ = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`page element #${id} is missing`);
  return element as T;
};

function setStatus(text: string): void {
  $('status').textContent = text;
}

/** An error the user must see (role=alert); empty text clears it. */
function setAlert(text: string, details: string[] = []): void {
  const alert = $('alert');
  alert.replaceChildren();
  if (!text) {
    alert.hidden = true;
    return;
  }
  alert.hidden = false;
  const p = document.createElement('p');
  p.textContent = text;
  alert.append(p);
  if (details.length > 0) {
    const ul = document.createElement('ul');
    for (const d of details) {
      const li = document.createElement('li');
      li.textContent = d;
      ul.append(li);
    }
    alert.append(ul);
  }
}

function showNotes(id: string, heading: string, notes: string[]): void {
  const section = $(id);
  section.replaceChildren();
  section.hidden = notes.length === 0;
  if (notes.length === 0) return;
  const h = document.createElement('h2');
  h.textContent = heading;
  const ul = document.createElement('ul');
  for (const note of notes) {
    const li = document.createElement('li');
    li.textContent = note;
    ul.append(li);
  }
  section.append(h, ul);
}

function setBusy(busy: boolean): void {
  for (const button of document.querySelectorAll<HTMLButtonElement>('#actions button')) button.disabled = busy;
  $('main').setAttribute('aria-busy', String(busy));
}

const humanName = (p: Patient | Practitioner | undefined): string => {
  const name = p?.name?.[0];
  if (!name) return '';
  return name.text ?? [...(name.given ?? []), name.family ?? ''].join(' ').trim();
};

const conceptText = (order: OrderLike): string =>
  order.medicationCodeableConcept?.text ?? order.medicationCodeableConcept?.coding?.[0]?.display ?? order.code?.text ?? order.code?.coding?.[0]?.display ?? order.resourceType;

// ---------------------------------------------------------------------------------------------
// Local copy of the answers (this tab only)

interface LocalDraft {
  questionnaire: string;
  response: QuestionnaireResponse;
  responseId?: string;
  /** True while the EHR does not have these answers yet. */
  unsaved: boolean;
}

const localKey = (s: Pick<Session, 'ehrBase' | 'order'>): string => `dtr-draft|${s.ehrBase}|${s.order.resourceType}/${s.order.id ?? ''}`;

function readLocal(s: Session): LocalDraft | undefined {
  try {
    const raw = sessionStorage.getItem(localKey(s));
    const parsed = raw ? (JSON.parse(raw) as LocalDraft) : undefined;
    return parsed && parsed.questionnaire === s.draft.questionnaire ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function writeLocal(s: Session, draft: LocalDraft): void {
  try {
    sessionStorage.setItem(localKey(s), JSON.stringify(draft));
  } catch {
    // Storage full or disabled: the EHR save still runs.
  }
}

// ---------------------------------------------------------------------------------------------
// Launch

async function loadConfig(): Promise<AppConfig> {
  const response = await fetch('config.json', { headers: { Accept: 'application/json' } });
  if (!response.ok) throw new AppError('app', `The app configuration could not be read (HTTP ${response.status}).`);
  return (await response.json()) as AppConfig;
}

/** Standalone launch without an order: the user picks one of the patient's open medication orders. */
async function pickOrder(client: Client, patientId: string): Promise<string> {
  const orders = ((await ehrSearch(client, `MedicationRequest?patient=${encodeURIComponent(patientId)}&status=draft,active`, 'list the orders')) ?? []) as MedicationRequest[];
  if (orders.length === 0) throw new AppError('app', 'This patient has no draft or active medication order to document.');
  const section = $('order-picker');
  const list = $('order-list');
  list.replaceChildren();
  orders.forEach((order, index) => {
    const id = `order-${index}`;
    const wrapper = document.createElement('div');
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = 'order';
    input.id = id;
    input.value = `MedicationRequest/${order.id ?? ''}`;
    if (index === 0) input.checked = true;
    const label = document.createElement('label');
    label.htmlFor = id;
    label.textContent = `${conceptText(order)} (${order.status}${order.authoredOn ? `, ${order.authoredOn.slice(0, 10)}` : ''})`;
    wrapper.append(input, label);
    list.append(wrapper);
  });
  section.hidden = false;
  $<HTMLInputElement>('order-0').focus();
  return new Promise((resolve) => {
    $<HTMLFormElement>('order-form').addEventListener(
      'submit',
      (event) => {
        event.preventDefault();
        const chosen = list.querySelector<HTMLInputElement>('input[name=order]:checked');
        section.hidden = true;
        resolve(chosen?.value ?? '');
      },
      { once: true },
    );
  });
}

async function findCoverage(client: Client, patientId: string, order: OrderLike & { insurance?: Reference[] }): Promise<Coverage> {
  const fromOrder = order.insurance?.map((r) => relativeReference(r.reference)).find((r) => r?.startsWith('Coverage/'));
  if (fromOrder) return ehrRead<Coverage>(client, fromOrder, 'read the coverage');
  const found = ((await ehrSearch(client, `Coverage?patient=${encodeURIComponent(patientId)}&status=active`, 'find the coverage')) ?? []) as Coverage[];
  if (!found[0]) throw new AppError('app', 'The EHR holds no active coverage for this patient.');
  return found[0];
}

/** The package's Questionnaire, Libraries, ValueSets and draft response for this order. */
/**
 * The coverage as the payer needs it to pick its policy: each `payor` reference also carries the
 * payer Organization's identifiers (e.g. its NAIC code), which the EHR's reference alone does not.
 */
function withPayerIdentifiers(coverage: Coverage, payers: Organization[]): Coverage {
  const copy = structuredClone(coverage);
  for (const payor of copy.payor ?? []) {
    const org = payers.find((o) => relativeReference(payor.reference) === `Organization/${o.id ?? ''}`);
    if (!payor.identifier && org?.identifier?.[0]) payor.identifier = org.identifier[0];
  }
  return copy;
}

interface PackageForm {
  content: PackageContent;
  draft: QuestionnaireResponse;
}

/**
 * The form the app shows. An adaptive Questionnaire (isAdaptive) wins: it is driven by
 * `$next-question`, and the static form it derives from, when the package carries it too, only lends
 * its Libraries (the chart types to read) and ValueSets. Any other Questionnaire is named in a note.
 */
function chooseForm(forms: PackageForm[], notes: string[]): PackageForm & { adaptive: boolean; base?: PackageContent } {
  const adaptive = forms.find((f) => isAdaptive(f.content.questionnaire));
  const base = adaptive ? forms.find((f) => f !== adaptive && f.content.questionnaire.url === derivedFromUrl(adaptive.content.questionnaire)) : undefined;
  const shown = adaptive ?? forms[0]!;
  const others = forms.filter((f) => f !== shown && f !== base);
  if (others.length > 0) notes.push(`The health plan sent ${forms.length} questionnaires; this app shows ${shown.content.questionnaire.title ?? shown.content.questionnaire.url ?? ''}, not ${others.map((f) => f.content.questionnaire.title ?? f.content.questionnaire.url ?? '').join(', ')}.`);
  if (!adaptive) return { ...shown, adaptive: false };
  return {
    content: { questionnaire: adaptive.content.questionnaire, libraries: [...adaptive.content.libraries, ...(base?.content.libraries ?? [])], valueSets: [...adaptive.content.valueSets, ...(base?.content.valueSets ?? [])] },
    draft: adaptive.draft,
    adaptive: true,
    ...(base ? { base: base.content } : {}),
  };
}

async function fetchPackage(config: AppConfig, payer: PayerCredentials | undefined, context: LaunchContext, order: FhirResource, coverage: Coverage): Promise<{ content: PackageContent; draft: QuestionnaireResponse; notes: string[]; adaptive: boolean; base?: PackageContent }> {
  const parameter: NonNullable<import('fhir/r4').Parameters['parameter']> = [
    { name: 'coverage', resource: coverage },
    { name: 'order', resource: order },
    ...context.questionnaires.map((q) => ({ name: 'questionnaire', valueCanonical: q })),
  ];
  if (context.coverageAssertionId) parameter.push({ name: 'context', valueString: context.coverageAssertionId });
  const body = await payerPost<Bundle | import('fhir/r4').Parameters>(`${config.payerFhirBase}/Questionnaire/$questionnaire-package`, { resourceType: 'Parameters', parameter }, 'give the questionnaire for this order', payer);
  const { bundles, notes } = readPackage(body);
  if (bundles.length === 0) throw new AppError('payer', `The health plan has no questionnaire for this order${notes.length ? `: ${notes.join('; ')}` : '.'}`);
  const forms = bundles.map((bundle): PackageForm => {
    const resources = (bundle.entry ?? []).map((e) => e.resource).filter((r): r is FhirResource => r !== undefined);
    const questionnaire = resources.find((r): r is Questionnaire => r.resourceType === 'Questionnaire');
    const draft = resources.find((r): r is QuestionnaireResponse => r.resourceType === 'QuestionnaireResponse');
    if (!questionnaire || !draft) throw new AppError('payer', 'The questionnaire package from the health plan has no Questionnaire or no draft response.');
    return {
      content: {
        questionnaire,
        libraries: resources.filter((r): r is Library => r.resourceType === 'Library'),
        valueSets: resources.filter((r): r is ValueSet => r.resourceType === 'ValueSet'),
      },
      draft,
    };
  });
  return { ...chooseForm(forms, notes), notes };
}

/** The chart as the package's Libraries need it: one search per data type, plus the order's requester and the payer. */
async function readChart(client: Client, patient: Patient, order: OrderLike & FhirResource, coverage: Coverage, libraries: Library[], known: FhirResource[]): Promise<{ chart: FhirResource[]; notes: string[] }> {
  const notes: string[] = [];
  const resources: FhirResource[] = [patient, coverage, order, ...known];
  const searches = chartSearches(requiredTypes(libraries), patient.id ?? '');
  const results = await Promise.all(searches.map(async (query) => ({ query, found: await ehrSearch(client, query, 'read the chart') })));
  for (const { query, found } of results) {
    if (found === null) notes.push(`The EHR did not answer the search ${query.split('?')[0] ?? query}; answers that need it are not pre-filled.`);
    else resources.push(...found);
  }
  const read = async (reference: string | undefined): Promise<FhirResource | undefined> => {
    const ref = relativeReference(reference);
    if (!ref || resources.some((r) => `${r.resourceType}/${r.id ?? ''}` === ref)) return undefined;
    try {
      const found = await ehrRead<FhirResource>(client, ref, `read ${ref}`);
      resources.push(found);
      return found;
    } catch (error) {
      if (error instanceof AppError && (error.kind === 'expired' || error.kind === 'ehr-down')) throw error;
      notes.push(`${ref} could not be read from the EHR.`);
      return undefined;
    }
  };
  for (const payor of coverage.payor ?? []) await read(payor.reference);
  const requester = relativeReference(order.requester?.reference);
  if (requester?.startsWith('PractitionerRole/')) {
    const role = (await read(requester)) as PractitionerRole | undefined;
    await read(role?.practitioner?.reference);
    await read(role?.organization?.reference);
  } else if (requester?.startsWith('Practitioner/')) {
    await read(requester);
    const roles = (await ehrSearch(client, `PractitionerRole?practitioner=${encodeURIComponent(requester.split('/')[1] ?? '')}`, "read the prescriber's role")) as PractitionerRole[] | null;
    for (const role of roles ?? []) {
      resources.push(role);
      await read(role.organization?.reference);
    }
  }
  return { chart: resources, notes };
}

/** A draft the EHR already holds for this order and questionnaire (relaunch). */
async function savedDraft(s: Omit<Session, 'prefilled' | 'chart' | 'completed'>): Promise<QuestionnaireResponse | undefined> {
  if (s.context.response) {
    return ehrRead<QuestionnaireResponse>(s.client, s.context.response, 'read the saved questionnaire response');
  }
  const found = ((await ehrSearch(s.client, `QuestionnaireResponse?patient=${encodeURIComponent(s.patient.id ?? '')}&status=in-progress`, 'look for a saved draft')) ?? []) as QuestionnaireResponse[];
  const orderRef = `${s.order.resourceType}/${s.order.id ?? ''}`;
  return found.find(
    (qr) =>
      qr.questionnaire === s.draft.questionnaire &&
      (qr.extension ?? []).some((e: Extension) => e.url === EXT.qrContext && relativeReference(e.valueReference?.reference) === orderRef),
  );
}

// ---------------------------------------------------------------------------------------------
// Saving and submitting

let saving: Promise<void> = Promise.resolve();
/** An adaptive round is replacing the form (renderAdaptive). */
let rendering = false;
let saveTimer: number | undefined;

function currentResponse(s: Session, status: 'in-progress' | 'completed'): QuestionnaireResponse {
  const exported = exportResponse($('formContainer'));
  return buildResponse({
    draft: s.draft,
    exported,
    prefilled: s.prefilled,
    status,
    ...(s.responseId ? { id: s.responseId } : {}),
    ...(s.author ? { author: s.author } : {}),
    now: new Date(),
  });
}

/** What the user reads after a failed save: what happened, that the answers are kept, what to do. */
function keptMessage(error: AppError): string {
  switch (error.kind) {
    case 'expired':
      return `${error.message} Your answers are kept in this browser tab: launch the app again from the EHR and they are restored and saved.`;
    case 'ehr-down':
    case 'network':
      return `${error.message} Your answers are kept in this browser tab; the app saves them when you change an answer or press "Save draft".`;
    case 'ehr-refused':
    case 'payer':
    case 'app':
      return `${error.message} Your answers are kept in this browser tab.`;
  }
}

/** Saves the answers: first in this tab, then in the EHR. Resolves true when the EHR has them. */
async function save(s: Session, status: 'in-progress' | 'completed'): Promise<boolean> {
  const response = currentResponse(s, status);
  writeLocal(s, { questionnaire: s.draft.questionnaire ?? '', response, ...(s.responseId ? { responseId: s.responseId } : {}), unsaved: true });
  try {
    const saved = await ehrSave(s.client, response, status === 'completed' ? 'save the completed questionnaire' : 'save the draft');
    if (saved.id) s.responseId = saved.id;
    writeLocal(s, { questionnaire: s.draft.questionnaire ?? '', response: { ...response, ...(s.responseId ? { id: s.responseId } : {}) }, ...(s.responseId ? { responseId: s.responseId } : {}), unsaved: false });
    setAlert('');
    // Every save after the last adaptive round keeps saying so (a later autosave used to hide it).
    const done = status === 'in-progress' && s.adaptive?.done ? 'The health plan has no more questions. ' : '';
    setStatus(`${done}${status === 'completed' ? 'Completed questionnaire' : 'Draft'} saved in the EHR at ${new Date().toLocaleTimeString()}.`);
    return true;
  } catch (error) {
    const e = ehrError(error, 'save the draft');
    setAlert(keptMessage(e));
    setStatus('Not saved in the EHR.');
    return false;
  }
}

function queueSave(s: Session, delay = 300): void {
  if (s.completed) return;
  window.clearTimeout(saveTimer);
  saveTimer = window.setTimeout(() => {
    // Asked for before the completed save began (a change event racing the Submit click): once the
    // EHR holds the completed response, a draft must not overwrite it nor come back into the tab.
    saving = saving.then(() => (s.completed ? undefined : save(s, 'in-progress').then(() => undefined)));
  }, delay);
}

/** Checks required answers, then saves the response as completed. */
async function complete(s: Session): Promise<boolean> {
  const errors = formErrors($('formContainer'));
  if (errors.length > 0) {
    setAlert('Some answers are missing or not valid. Complete them before sending:', errors);
    $('alert').focus();
    return false;
  }
  window.clearTimeout(saveTimer);
  // In the one chain of saves, so that a draft save queued meanwhile runs after it and sees `completed`.
  const done = saving.then(async () => {
    const ok = await save(s, 'completed');
    if (ok) s.completed = true;
    return ok;
  });
  saving = done.then(() => undefined);
  const ok = await done;
  if (ok) {
    // The EHR has the answers now: nothing of the patient's stays in the tab.
    try {
      sessionStorage.removeItem(localKey(s));
    } catch {
      // Storage disabled: nothing was kept.
    }
  }
  return ok;
}

function showResult(result: PasResult): void {
  const section = $('result');
  section.replaceChildren();
  section.hidden = false;
  const h = document.createElement('h2');
  const p = document.createElement('p');
  const ul = document.createElement('ul');
  const notes = result.notes.filter((n) => n !== result.disposition);
  switch (result.kind) {
    case 'approved':
      section.className = 'result approved';
      h.textContent = `Approved (${result.code ?? ''}): authorization ${result.number ?? ''}`;
      p.textContent = `Valid from ${result.period?.start ?? '?'} to ${result.period?.end ?? '?'}. ${result.disposition ?? ''}`;
      break;
    case 'pended':
      section.className = 'result pended';
      h.textContent = `Pended for review (${result.code ?? ''})`;
      p.textContent = `${result.disposition ?? ''} Still missing or not shown:`;
      break;
    case 'denied':
      section.className = 'result denied';
      h.textContent = `Denied (${result.code ?? ''})`;
      p.textContent = result.disposition ?? '';
      break;
    case 'other':
      section.className = 'result';
      h.textContent = `The health plan answered ${result.code ?? 'without a decision'}`;
      p.textContent = result.disposition ?? '';
      break;
  }
  for (const note of notes) {
    const li = document.createElement('li');
    li.textContent = note.replace(/^Item \d+: /, '');
    ul.append(li);
  }
  section.append(h, p);
  if (notes.length > 0) section.append(ul);
  section.focus();
}

async function submit(s: Session): Promise<void> {
  setBusy(true);
  try {
    if (!(await complete(s))) return;
    setStatus('Sending the prior authorization request to the health plan…');
    const response = currentResponse(s, 'completed');
    const bundle = buildPasRequest({
      ehrBase: s.ehrBase,
      order: s.order,
      coverage: s.coverage,
      resources: s.chart,
      response,
      now: new Date(),
      newId: () => crypto.randomUUID(),
    });
    const answer = await payerPost<Bundle>(`${s.config.payerFhirBase}/Claim/$submit`, bundle, 'take the prior authorization request', s.payer);
    const result = readPasResponse(answer);
    showResult(result);
    setStatus(`The health plan answered: ${result.kind}.`);
  } catch (error) {
    setAlert(error instanceof AppError ? error.message : `The request could not be sent: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    setBusy(false);
  }
}

async function returnToEhr(s: Session): Promise<void> {
  setBusy(true);
  try {
    if (!(await complete(s))) return;
    const section = $('result');
    section.hidden = false;
    section.className = 'result';
    section.replaceChildren();
    const h = document.createElement('h2');
    h.textContent = 'Saved in the EHR';
    const p = document.createElement('p');
    p.textContent = 'The completed questionnaire response is in the patient\'s record; the EHR can send it with its own prior authorization request. You can close this window.';
    section.append(h, p);
    section.focus();
  } finally {
    setBusy(false);
  }
}

// ---------------------------------------------------------------------------------------------
// Adaptive form

/** Shows the questions the adaptive response holds so far, with its answers. */
async function renderAdaptive(s: Session): Promise<void> {
  const form = containedForm(s.draft);
  if (!form) throw new AppError('payer', 'The health plan\'s next-question answer holds no questionnaire.');
  s.content = { ...s.content, questionnaire: form };
  // The renderer gets the form itself; the response's `#id` reference and contained copy are the EHR's business.
  const { contained: _contained, questionnaire: _questionnaire, ...response } = prefilledResponse(s.draft, answersByLinkId(s.draft.item));
  rendering = true;
  try {
    await renderForm($('formContainer'), withTerminologyServer(form, s.config.payerFhirBase, s.content.valueSets), response);
  } finally {
    rendering = false;
  }
  $('next').hidden = s.adaptive?.done === true;
  $('submit').hidden = s.adaptive?.done !== true;
  $('return').hidden = s.adaptive?.done !== true;
}

/**
 * One `$next-question` round: the answers so far (with the chart as `data`) go to the payer; its
 * response (more questions, or `completed`) becomes the draft, is shown and saved to the EHR.
 */
async function nextQuestions(s: Session, response: QuestionnaireResponse): Promise<void> {
  const body: import('fhir/r4').Parameters = {
    resourceType: 'Parameters',
    parameter: [
      { name: 'questionnaire-response', resource: response },
      { name: 'data', resource: chartBundle(s.chart) },
    ],
  };
  const answer = await payerPost<QuestionnaireResponse | import('fhir/r4').Parameters>(`${s.config.payerFhirBase}/Questionnaire/$next-question`, body, 'give the next questions', s.payer);
  const next = answer.resourceType === 'Parameters' ? (answer.parameter ?? []).find((p) => p.name === 'return')?.resource : answer;
  if (next?.resourceType !== 'QuestionnaireResponse') throw new AppError('payer', 'The health plan did not answer with the next questions.');
  const { id: _id, ...draft } = next;
  s.draft = draft;
  for (const [linkId, answers] of autoAnswers(draft.item)) if (!s.prefilled.has(linkId)) s.prefilled.set(linkId, answers);
  s.adaptive = { done: draft.status === 'completed' };
  await renderAdaptive(s);
}

async function advance(s: Session): Promise<void> {
  const errors = formErrors($('formContainer'));
  if (errors.length > 0) {
    setAlert('Some answers are missing or not valid. Complete them before going on:', errors);
    $('alert').focus();
    return;
  }
  setBusy(true);
  try {
    window.clearTimeout(saveTimer);
    await saving;
    setStatus('Asking the health plan for the next questions…');
    await nextQuestions(s, currentResponse(s, 'in-progress'));
    saving = save(s, 'in-progress').then(() => undefined);
    await saving;
    $('formContainer').focus();
  } catch (error) {
    setAlert(error instanceof AppError ? `${error.message} Your answers are kept.` : `The next questions could not be fetched: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    setBusy(false);
  }
}

// ---------------------------------------------------------------------------------------------
// Start

async function start(): Promise<void> {
  setStatus('Connecting to the EHR…');
  const [client, config] = await Promise.all([FHIR.oauth2.ready(), loadConfig()]);
  const token = (client.state.tokenResponse ?? {}) as Record<string, unknown>;
  const context = readLaunchContext(token);
  const patientId = context.patientId ?? client.patient.id ?? undefined;
  if (!patientId) throw new AppError('app', 'The EHR did not give the app a patient.');
  const ehrBase = client.state.serverUrl.replace(/\/+$/, '');
  const payer = config.payerTokenUrl
    ? payerAuth({ tokenUrl: config.payerTokenUrl, clientId: config.clientId, ehrBase, ehrToken: () => client.state.tokenResponse?.access_token })
    : undefined;

  setStatus('Reading the patient, the order and the coverage from the EHR…');
  const patient = await ehrRead<Patient>(client, `Patient/${patientId}`, 'read the patient');
  $('patient-name').textContent = `${humanName(patient)}${patient.birthDate ? `, born ${patient.birthDate}` : ''}`;
  const orderRef = context.order ?? (await pickOrder(client, patientId));
  if (!ORDER_TYPES.includes(orderRef.split('/')[0] ?? '')) throw new AppError('app', `${orderRef} is not an order this app documents.`);
  const order = await ehrRead<OrderLike & FhirResource>(client, orderRef, 'read the order');
  const coverage = context.coverage ? await ehrRead<Coverage>(client, context.coverage, 'read the coverage') : await findCoverage(client, patientId, order as OrderLike & { insurance?: Reference[] });
  $('order-name').textContent = conceptText(order);
  $('payer-name').textContent = coverage.payor?.[0]?.display ?? coverage.payor?.[0]?.reference ?? '';

  const payers: Organization[] = [];
  for (const payor of coverage.payor ?? []) {
    const ref = relativeReference(payor.reference);
    if (ref?.startsWith('Organization/')) payers.push(await ehrRead<Organization>(client, ref, 'read the health plan'));
  }

  setStatus('Getting the questionnaire from the health plan…');
  const { content, draft, notes, adaptive, base } = await fetchPackage(config, payer, context, order, withPayerIdentifiers(coverage, payers));
  const fhirUser = client.getFhirUser();
  const author = fhirUser ? { reference: fhirUser } : order.requester?.reference ? { reference: order.requester.reference } : undefined;
  const partial = { client, config, ...(payer ? { payer } : {}), ehrBase, context, patient, order, coverage, content, draft, ...(author ? { author } : {}) };

  setStatus('Reading the chart and running the health plan\'s rules on it…');
  const read = await readChart(client, patient, order, coverage, content.libraries, payers);
  // This form's own saved responses are not chart evidence: their answers are the clinician's, restored below.
  const chart = read.chart.filter((r) => !(r.resourceType === 'QuestionnaireResponse' && r.questionnaire === draft.questionnaire));
  const chartNotes = read.notes;
  // An adaptive form is pre-filled from the static form it derives from (its Libraries, in the
  // browser), when the package carries it; `$next-question` then pre-fills each question it adds.
  const populated = adaptive ? base : content;
  const population = populated
    ? await populateInBrowser(populated, { chart: chartBundle(chart), patientId, order, coverage, evaluationDate: new Date() })
    : { answers: new Map<string, QuestionnaireResponseItemAnswer[]>(), issues: [] as import('fhir/r4').OperationOutcomeIssue[] };
  const problems = population.issues.filter((i) => i.severity !== 'information').map((i) => i.diagnostics ?? i.code);
  showNotes('payer-notes', 'Notes from the health plan', notes);
  showNotes('chart-notes', 'Not filled in from the chart', [...chartNotes, ...problems]);

  const session: Session = { ...partial, prefilled: population.answers, chart, completed: false };
  // An adaptive draft is not resumed: the payer asks again from the chart (see README).
  const local = adaptive ? undefined : readLocal(session);
  const saved = local?.unsaved || adaptive ? undefined : await savedDraft(partial);
  if (saved?.id) session.responseId = saved.id;
  else if (local?.responseId) session.responseId = local.responseId;
  // Newest answers win: unsaved answers of this tab, else the EHR's draft, else the chart.
  const answers = local?.unsaved ? answersByLinkId(local.response.item) : saved ? answersByLinkId(saved.item) : population.answers;

  setStatus('Showing the form…');
  const container = $('formContainer');
  if (adaptive) {
    setStatus('Asking the health plan for the first questions…');
    // The chart's answers count as asked (SDC: answered items of the first call); the payer adds the rest.
    const items = [...population.answers].map(([linkId, answer]) => ({ linkId, answer }));
    await nextQuestions(session, buildResponse({ draft, exported: { resourceType: 'QuestionnaireResponse', status: 'in-progress', item: items }, prefilled: population.answers, status: 'in-progress', ...(author ? { author } : {}), now: new Date() }));
  } else {
    await renderForm(container, withTerminologyServer(content.questionnaire, config.payerFhirBase, content.valueSets), prefilledResponse(draft, answers));
  }
  // LHC-Forms does not tell when an answer changes (its radio buttons stop the change event), so
  // the form is watched: on any change of the page or typing, the answers are exported; marks are
  // refreshed, and a draft save is queued when they differ from the last ones seen.
  let lastAnswers = '';
  let checkTimer: number | undefined;
  const check = (): void => {
    // Mid-render the renderer has no form to export (it throws): the render's own mutations check again.
    if (rendering) return scheduleCheck(150);
    const exported = exportResponse(container);
    markOrigins(container, session.prefilled, answersByLinkId(exported.item));
    const now = JSON.stringify(exported.item ?? []);
    if (now !== lastAnswers) {
      const first = lastAnswers === '';
      lastAnswers = now;
      if (!first) queueSave(session);
    }
  };
  const scheduleCheck = (delay: number): void => {
    window.clearTimeout(checkTimer);
    checkTimer = window.setTimeout(check, delay);
  };
  check();
  new MutationObserver(() => scheduleCheck(150)).observe(container, { subtree: true, childList: true, attributes: true, characterData: true });
  container.addEventListener('change', () => scheduleCheck(50));
  container.addEventListener('input', () => scheduleCheck(700));
  container.addEventListener('click', () => scheduleCheck(50));

  $('actions').hidden = false;
  $('save').addEventListener('click', () => {
    window.clearTimeout(saveTimer);
    saving = saving.then(() => save(session, 'in-progress').then(() => undefined));
  });
  $('submit').addEventListener('click', () => void submit(session));
  $('next').addEventListener('click', () => void advance(session));
  $('return').addEventListener('click', () => void returnToEhr(session));
  // The first save: a relaunch with unsaved answers sends them now; a new form creates the draft.
  saving = save(session, 'in-progress').then(() => undefined);
  await saving;
  const filled = session.prefilled.size;
  setStatus(`${filled} answer${filled === 1 ? '' : 's'} filled in from the chart. ${$('status').textContent ?? ''}`);
}

start().catch((error: unknown) => {
  const message = error instanceof AppError ? error.message : `The app could not start: ${error instanceof Error ? error.message : String(error)}`;
  setAlert(error instanceof AppError && error.kind === 'expired' ? `${message} Launch the app again from the EHR.` : message);
  setStatus('');
});
