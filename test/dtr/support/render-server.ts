/**
 * Test support for the renderer test: a local HTTP server on 127.0.0.1 that serves
 * - `/` — a blank page loading LHC-Forms (build/lforms, see scripts/fetch-lforms.sh);
 * - `/lforms/*` — the LHC-Forms files;
 * - `/fhir/ValueSet/$expand?url=` — our own $expand handler, the terminology server the
 *   renderer uses for `answerValueSet`.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { ArtifactRepository } from '../../../src/dtr/artifacts';
import { expandValueSetOperation, type Query } from '../../../src/dtr/resources';
import { isOperationOutcomeError } from '../../../src/fhir/outcomes';

export const LFORMS_FILES = [
  'webcomponent/lhc-forms.js',
  'webcomponent/styles.css',
  'webcomponent/assets/lib/zone.min.js',
  'fhir/R4/lformsFHIR.min.js',
] as const;

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>DTR render test</title>
<link rel="stylesheet" href="/lforms/webcomponent/styles.css"></head>
<body><div id="formContainer"></div>
<script src="/lforms/webcomponent/assets/lib/zone.min.js"></script>
<script src="/lforms/webcomponent/lhc-forms.js"></script>
<script src="/lforms/fhir/R4/lformsFHIR.min.js"></script>
</body></html>`;

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png' };

export interface RenderServer {
  url: string;
  /** Switches the repository $expand answers from (one per questionnaire set). */
  use(artifacts: ArtifactRepository): void;
  expandRequests: string[];
  close(): Promise<void>;
}

export async function startRenderServer(lformsDir: string, initial: ArtifactRepository): Promise<RenderServer> {
  let artifacts = initial;
  const expandRequests: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (status: number, type: string, body: string | Buffer): void => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (url.pathname === '/') return send(200, 'text/html; charset=utf-8', PAGE);
    if (url.pathname.startsWith('/lforms/')) {
      const file = path.resolve(lformsDir, `.${decodeURIComponent(url.pathname.slice('/lforms'.length))}`);
      if (!file.startsWith(lformsDir + path.sep) || !fs.existsSync(file)) return send(404, 'text/plain', 'not found');
      return send(200, TYPES[path.extname(file)] ?? 'application/octet-stream', fs.readFileSync(file));
    }
    if (url.pathname === '/fhir/ValueSet/$expand') {
      expandRequests.push(url.searchParams.get('url') ?? '');
      const query: Query = {};
      for (const [key, value] of url.searchParams) if (key !== '_format') query[key] = value;
      try {
        return send(200, 'application/fhir+json', JSON.stringify(expandValueSetOperation(artifacts, query).body));
      } catch (error) {
        if (isOperationOutcomeError(error)) return send(error.status, 'application/fhir+json', JSON.stringify(error.outcome));
        throw error;
      }
    }
    return send(404, 'text/plain', 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    use: (next) => {
      artifacts = next;
    },
    expandRequests,
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}
