/**
 * SMART Backend Services on the HTTP side: `/.well-known/smart-configuration` (also under /fhir),
 * the token endpoint, and the bearer check in front of every other /fhir route. Mounted before
 * the FHIR routes; sets `res.locals.client` for them.
 */
import express from 'express';
import type { RouteModule } from '../app';
import { OAuthError, TOKEN_PATH, createSmartAuth, type AuthenticatedClient } from '../../auth/smart';
import { createTokenExchange } from '../../auth/token-exchange';

export const smartRoutes: RouteModule = (router, ctx) => {
  const smart = createSmartAuth(ctx.config, ctx.store, ctx.clock, createTokenExchange(ctx.config));

  for (const path of ['/.well-known/smart-configuration', '/fhir/.well-known/smart-configuration']) {
    router.get(path, (_req, res) => {
      res.status(200).type('application/json').send(JSON.stringify(smart.discovery()));
    });
  }

  router.post(TOKEN_PATH, express.urlencoded({ extended: false, limit: '64kb' }), (req, res, next) => {
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
    smart
      .token((req.body ?? {}) as Record<string, unknown>)
      .then((answer) => res.status(200).json(answer))
      .catch((error: unknown) => {
        if (!(error instanceof OAuthError)) {
          next(error);
          return;
        }
        res.status(error.status).json({ error: error.error, error_description: error.description });
      });
  });

  if (!smart.enabled) return;
  router.use('/fhir', (req, res, next) => {
    const header = req.headers.authorization;
    smart
      .authenticate(req.method, req.path, Array.isArray(header) ? header[0] : header)
      .then((client: AuthenticatedClient | null) => {
        if (client) res.locals.client = client;
        next();
      })
      .catch((error: unknown) => {
        const challenge = (error as { wwwAuthenticate?: string }).wwwAuthenticate;
        if (challenge) res.setHeader('WWW-Authenticate', challenge);
        next(error);
      });
  });
};
