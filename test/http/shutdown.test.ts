/**
 * Graceful shutdown of the real server process (src/server.ts): on SIGTERM it stops accepting
 * connections, lets the request in flight finish, closes the store and exits 0; a request that
 * outlives SHUTDOWN_GRACE_MS is cut and the exit code says so.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { REPO_ROOT } from '../../src/config';
import type { AppContext } from '../../src/http/app';
import { shutdown } from '../../src/server';

const PAS = fs.readFileSync(path.join(REPO_ROOT, 'fixtures/pas/kineret-request-base.json'));

interface Running {
  child: ChildProcessWithoutNullStreams;
  port: number;
  lines: Record<string, unknown>[];
  exited: Promise<number | null>;
  /** Resolves with the first log line with this message. */
  line(message: string): Promise<Record<string, unknown>>;
}

async function startServer(env: Record<string, string> = {}): Promise<Running> {
  const { NODE_OPTIONS: _ignored, ...parentEnv } = process.env;
  // The preload gives the store the run's empty PGlite cluster (no initdb: ~4 s of CPU per start).
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', path.join(REPO_ROOT, 'test/support/pglite-template.ts'), path.join(REPO_ROOT, 'src/server.ts')], {
    cwd: REPO_ROOT,
    env: { ...parentEnv, PORT: '0', DATA_DIR: 'memory://', DATABASE_URL: '', LOG_LEVEL: 'info', ...env },
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: { message: string; resolve: (l: Record<string, unknown>) => void }[] = [];
  let buffer = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const text = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (!text.startsWith('{')) continue;
      const parsed = JSON.parse(text) as Record<string, unknown>;
      lines.push(parsed);
      for (const w of waiters.filter((x) => x.message === parsed.message)) w.resolve(parsed);
    }
  });
  child.stderr.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const line = (message: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const seen = lines.find((l) => l.message === message);
      if (seen) return resolve(seen);
      waiters.push({ message, resolve });
      void exited.then((code) => reject(new Error(`server exited (${code}) before logging "${message}"`)));
    });
  const listening = await line('listening');
  return { child, port: Number(listening.port), lines, exited, line };
}

/** A $submit whose body is sent in two parts: the request is in flight until `finish()`. */
function slowSubmit(port: number) {
  let pending: http.ClientRequest | undefined;
  const response = new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/fhir/Claim/$submit', agent: false, headers: { 'Content-Type': 'application/fhir+json', 'Content-Length': PAS.length } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.write(PAS.subarray(0, 1000));
    pending = req;
  });
  return { response, finish: () => pending?.end(PAS.subarray(1000)) };
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('SIGTERM: no new connections, the request in flight completes, exit 0', async () => {
  const server = await startServer();
  try {
    const slow = slowSubmit(server.port);
    await pause(300);
    server.child.kill('SIGTERM');
    await server.line('stopping');
    // The listener closes right after that line is written; the request in flight is still open.
    await pause(300);
    expect(await connects(server.port)).toBe(false);
    slow.finish();
    const answer = await slow.response;
    expect(answer.status).toBe(200);
    expect(answer.headers.connection).toBe('close');
    expect((JSON.parse(answer.body) as { resourceType: string }).resourceType).toBe('Bundle');
    expect(await server.exited).toBe(0);
    expect(await server.line('stopped')).toMatchObject({ signal: 'SIGTERM', inFlightFinished: true, closed: true });
  } finally {
    server.child.kill('SIGKILL');
  }
}, 90_000);

test('a request that outlives the grace period is cut, and the exit code is 1', async () => {
  const server = await startServer({ SHUTDOWN_GRACE_MS: '500' });
  try {
    const slow = slowSubmit(server.port);
    const outcome = slow.response.then(
      () => 'answered',
      () => 'cut',
    );
    await pause(300);
    const signalled = Date.now();
    server.child.kill('SIGINT');
    expect(await server.exited).toBe(1);
    expect(Date.now() - signalled).toBeLessThan(5000);
    expect(await outcome).toBe('cut');
    expect(await server.line('stopped')).toMatchObject({ signal: 'SIGINT', inFlightFinished: false });
  } finally {
    server.child.kill('SIGKILL');
  }
}, 90_000);

test('a store that never finishes closing does not keep the process from stopping', async () => {
  const server = http.createServer((_req, res) => res.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const logged: string[] = [];
  const ctx = {
    store: { close: () => new Promise<void>(() => undefined) },
    engine: {},
    logger: { error: (message: string) => logged.push(message) },
  } as unknown as AppContext;
  const started = Date.now();
  expect(await shutdown(server, ctx, 300)).toEqual({ inFlightFinished: true, closed: false });
  expect(Date.now() - started).toBeLessThan(3000);
  expect(logged).toEqual(['the store or the worker threads did not close within the grace period; stopping anyway']);
});
