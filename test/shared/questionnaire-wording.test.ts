/**
 * Questionnaire wording is our own: no text a clinician reads in a Questionnaire of questionnaires/
 * (title, description, item text, answer choices of its questionnaire-* value sets) repeats a run of
 * 8 or more words from any payer policy text in ../shared/seeds. Policy texts are read at test time
 * and never copied into the repository.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Questionnaire, QuestionnaireItem, ValueSet } from 'fhir/r4';
import { REPO_ROOT } from '../../src/config';

const RUN = 8;
const SEEDS = path.resolve(REPO_ROOT, '..', 'shared', 'seeds');

const words = (text: string): string[] =>
  text
    .toLowerCase()
    .replace(/[®™]/g, '')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim()
    .split(' ')
    .filter(Boolean);

function runs(text: string): string[] {
  const w = words(text);
  const out: string[] = [];
  for (let i = 0; i + RUN <= w.length; i++) out.push(w.slice(i, i + RUN).join(' '));
  return out;
}

const policyRuns = new Set(
  fs
    .readdirSync(SEEDS)
    .filter((f) => f.endsWith('.txt'))
    .flatMap((f) => runs(fs.readFileSync(path.join(SEEDS, f), 'utf8'))),
);

const questionnaireDir = path.join(REPO_ROOT, 'questionnaires');
const valueSetDir = path.join(REPO_ROOT, 'catalog', 'valuesets');
const questionnaires = fs
  .readdirSync(questionnaireDir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(fs.readFileSync(path.join(questionnaireDir, f), 'utf8')) as Questionnaire);
const answerSets = new Map(
  fs
    .readdirSync(valueSetDir)
    .filter((f) => f.startsWith('questionnaire-') && f.endsWith('.json'))
    .map((f) => JSON.parse(fs.readFileSync(path.join(valueSetDir, f), 'utf8')) as ValueSet)
    .map((vs) => [vs.url, vs] as const),
);

function texts(q: Questionnaire): [string, string][] {
  const out: [string, string][] = [
    ['title', q.title ?? ''],
    ['description', q.description ?? ''],
    ['purpose', q.purpose ?? ''],
  ];
  (function walk(items: QuestionnaireItem[] | undefined): void {
    for (const item of items ?? []) {
      out.push([item.linkId, item.text ?? '']);
      for (const option of answerSets.get(item.answerValueSet ?? '')?.expansion?.contains ?? []) out.push([`${item.linkId} option ${option.code}`, option.display ?? '']);
      walk(item.item);
    }
  })(q.item);
  return out;
}

test('the policy texts were read', () => {
  expect(policyRuns.size).toBeGreaterThan(1000);
});

describe.each(questionnaires.map((q) => [q.id ?? '?', q] as const))('Questionnaire %s', (_id, q) => {
  test(`repeats no run of ${RUN} words from a policy text`, () => {
    const copied = texts(q).flatMap(([where, text]) => runs(text).filter((r) => policyRuns.has(r)).map((r) => `${where}: "${r}"`));
    expect(copied).toEqual([]);
  });
});
