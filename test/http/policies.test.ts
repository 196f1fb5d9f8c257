/** The human-readable policy pages generated from the catalog. */
import request from 'supertest';
import { createTestApp, type TestApp } from '../support/app';
import { escapeHtml } from '../../src/catalog/pages';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

test('GET /policies/{id} shows every criterion with its citation', async () => {
  const res = await request(t.app).get('/policies/cp-phar-244');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/text\/html/);
  const policy = t.ctx.engine.catalog.get('cp-phar-244');
  for (const indication of policy?.indications ?? []) {
    for (const c of indication.initial.criteria) {
      expect(res.text).toContain(`CP.PHAR.244 ${c.id}`);
      expect(res.text).toContain(escapeHtml(c.text));
    }
  }
});

test('GET /policies compares every policy of a drug side by side', async () => {
  const res = await request(t.app).get('/policies');
  expect(res.status).toBe(200);
  for (const policy of t.ctx.engine.catalog.policies) expect(res.text).toContain(`/policies/${policy.id}`);
});

test('an unknown policy id is a 404 OperationOutcome', async () => {
  const res = await request(t.app).get('/policies/nope');
  expect(res.status).toBe(404);
  expect(res.body.resourceType).toBe('OperationOutcome');
});

test('policy text is escaped, never injected as HTML', () => {
  expect(escapeHtml('<script>"x" & \'y\'</script>')).toBe('&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;');
});
