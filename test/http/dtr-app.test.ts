/**
 * /dtr/: the DTR app's pages, configuration and files, as served (the app itself is tested in
 * test/dtr-app). Needs the built app (`npm run build:dtr-app`, run by `npm test`'s pretest).
 */
import request from 'supertest';
import { createTestApp, type TestApp } from '../support/app';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ dtrAppClientId: 'payer-dtr' });
});
afterAll(async () => t.close());

describe('/dtr/', () => {
  test.each([
    ['/dtr/', /<title>Prior authorization documentation<\/title>/],
    ['/dtr/launch', /src="launch\.js"/],
  ])('%s is an HTML page under a strict Content-Security-Policy', async (path, body) => {
    const res = await request(t.app).get(path);
    expect(res.status).toBe(200);
    expect(res.type).toBe('text/html');
    expect(res.text).toMatch(body);
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  test('/dtr redirects to /dtr/ and keeps the query (the authorization server may drop the slash)', async () => {
    const res = await request(t.app).get('/dtr?code=abc&state=xyz');
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('/dtr/?code=abc&state=xyz');
  });

  test('config.json: the client id, the scopes and this payer’s FHIR base', async () => {
    const res = await request(t.app).get('/dtr/config.json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ clientId: 'payer-dtr', scope: expect.stringMatching(/^launch launch\/patient openid fhirUser /), payerFhirBase: 'http://pa.test/fhir' });
    expect(res.body.scope).toContain('patient/QuestionnaireResponse.cru');
  });

  test('the scripts and LHC-Forms come from this server', async () => {
    for (const path of ['/dtr/app.js', '/dtr/launch.js', '/dtr/app.css', '/dtr/lforms/webcomponent/lhc-forms.js', '/dtr/lforms/fhir/R4/lformsFHIR.min.js']) {
      const res = await request(t.app).get(path);
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
    }
  });

  test('an unknown file is a 404 OperationOutcome; no path escapes the app folder', async () => {
    for (const path of ['/dtr/nothing.js', '/dtr/lforms/../../package.json', '/dtr/%2e%2e/%2e%2e/package.json']) {
      const res = await request(t.app).get(path);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
    }
  });
});
