/**
 * The payer's DTR SMART on FHIR app (Da Vinci DTR 2.0.1 "DTR SMART app"), served as static files:
 * - `GET /dtr/launch` — the SMART launch URL (EHR launch with `launch` + `iss`; standalone with `iss`);
 * - `GET /dtr/` — the app page the authorization server redirects back to;
 * - `GET /dtr/config.json` — the client id and scopes the app asks for, this payer's FHIR base and,
 *   when /fhir needs a token, the token endpoint where the app exchanges its EHR launch for one;
 * - `GET /dtr/lforms/*` — the LHC-Forms renderer (build/lforms, scripts/fetch-lforms.sh).
 * The scripts are bundled from app/dtr by scripts/build-dtr-app.mjs into build/dtr-app.
 */
import fs from 'node:fs';
import path from 'node:path';
import express from 'express';
import { REPO_ROOT } from '../../config';
import { issue, OperationOutcomeError, outcome } from '../../fhir/outcomes';
import { route, type RouteModule } from '../app';
import { TOKEN_PATH } from '../../auth/smart';

export const DTR_APP_DIR = path.join(REPO_ROOT, 'build', 'dtr-app');
export const LFORMS_DIR = path.join(REPO_ROOT, 'build', 'lforms');

/** What the app asks the EHR for: launch context, the user, read of the chart, write of its QuestionnaireResponse. */
export const DTR_APP_SCOPE = [
  'launch',
  'launch/patient',
  'openid',
  'fhirUser',
  'patient/*.rs',
  'patient/QuestionnaireResponse.cru',
  'user/Practitioner.r',
  'user/PractitionerRole.rs',
  'user/Organization.r',
].join(' ');

// The EHR's FHIR server is another origin the app talks to; scripts and styles only from here.
// LHC-Forms (Angular) sets inline styles.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  'connect-src *',
  "frame-ancestors *",
  "base-uri 'self'",
  "form-action 'self'",
].join('; ');

export const dtrAppRoutes: RouteModule = (router, ctx) => {
  const headers = (res: express.Response): void => {
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
  };
  const page = (file: string): express.RequestHandler => (_req, res, next) => {
    const full = path.join(DTR_APP_DIR, file);
    if (!fs.existsSync(full)) {
      next(new OperationOutcomeError(503, outcome([issue('error', 'not-supported', 'The DTR app is not built on this server: run `npm run build`.')])));
      return;
    }
    headers(res);
    res.setHeader('Cache-Control', 'no-cache');
    res.type('html').sendFile(full);
  };
  // Express routes are not strict: '/dtr/' also matches '/dtr', whose relative links would break.
  router.get('/dtr/', (req, res, next) => {
    const [pathname = '', query] = req.originalUrl.split('?', 2);
    if (!pathname.endsWith('/')) res.redirect(301, `${pathname}/${query ? `?${query}` : ''}`);
    else page('index.html')(req, res, next);
  });
  router.get('/dtr/index.html', page('index.html'));
  router.get('/dtr/launch', page('launch.html'));
  router.get(
    '/dtr/config.json',
    route(
      async () => ({
        status: 200,
        contentType: 'application/json',
        body: {
          clientId: ctx.config.dtrAppClientId,
          scope: DTR_APP_SCOPE,
          payerFhirBase: `${ctx.config.publicBaseUrl}/fhir`,
          // /fhir needs a token: the app exchanges its EHR launch for one (src/auth/token-exchange.ts).
          ...(ctx.config.smartClients.length > 0 ? { payerTokenUrl: `${ctx.config.publicBaseUrl}${TOKEN_PATH}` } : {}),
        },
      }),
      ctx,
    ),
  );
  const files = { fallthrough: true, index: false, redirect: false, setHeaders: (res: express.Response) => headers(res) } as const;
  router.use('/dtr/lforms', express.static(LFORMS_DIR, files));
  router.use('/dtr', express.static(DTR_APP_DIR, files));
};
