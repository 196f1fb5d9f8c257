/**
 * Start-up reads the compiled ELM and the value sets once (src/core/knowledge.ts): the engine and
 * DTR publishing build from the same reading, and share the parsed objects.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createTestApp, type TestApp } from '../support/app';
import { loadConfig } from '../../src/config';

const paths = loadConfig({ ...process.env, DATABASE_URL: '' }).paths;
const under = (dir: string) => (file: string) => path.resolve(file).startsWith(path.resolve(dir) + path.sep);

let t: TestApp;
const reads = new Map<string, number>();
beforeAll(async () => {
  const real = fs.readFileSync;
  const spy = jest.spyOn(fs, 'readFileSync').mockImplementation(((file: fs.PathOrFileDescriptor, options?: unknown) => {
    if (typeof file === 'string') reads.set(path.resolve(file), (reads.get(path.resolve(file)) ?? 0) + 1);
    return real(file, options as never);
  }) as typeof fs.readFileSync);
  try {
    t = await createTestApp({ evaluation: { workers: 0, timeoutMs: 10_000 } });
  } finally {
    spy.mockRestore();
  }
});
afterAll(async () => {
  await t.close();
});

test('each ELM and value-set file, and the cut FHIR model, is read once on the main thread', () => {
  const elm = [...reads].filter(([file]) => under(paths.elm)(file) && file.endsWith('.json'));
  const valueSets = [...reads].filter(([file]) => under(paths.valueSets)(file) && file.endsWith('.json'));
  const model = path.resolve(paths.elm, 'model', 'fhir-modelinfo.json');
  expect(elm.map(([file]) => file)).toContain(model);
  expect(elm.length).toBe(fs.readdirSync(paths.elm).filter((f) => f.endsWith('.json')).length + 1);
  expect(valueSets.length).toBe(fs.readdirSync(paths.valueSets).filter((f) => f.endsWith('.json')).length);
  expect([...elm, ...valueSets].filter(([, n]) => n !== 1)).toEqual([]);
});

test('the engine and the DTR repository hold the same parsed ELM and value sets', () => {
  const { engine, artifacts } = t.ctx;
  const policy = engine.catalog.policies[0]!;
  expect(artifacts.library(policy.library.name)?.elm).toBe(engine.libraries.libraries.get(policy.library.name)?.elm);
  const [url, indexed] = [...engine.valueSets.valueSets][0]!;
  expect(artifacts.byCanonical('ValueSet', url)?.expansion).toBe(indexed.expansion);
});
