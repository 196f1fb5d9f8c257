/**
 * Issue 8, "Done when": the server is killed (SIGKILL) between a decision and its delivery; after a
 * restart on the same store the notification arrives once.
 *
 * The server runs as a child process (src/server.ts) on a PGlite folder, and on PostgreSQL when
 * DATABASE_URL is set. The decision is a PAS cancel of a pended request ($submit with Claim-level
 * certificationType 3), which writes the new ClaimResponse version and its outbox event in one
 * transaction. The receiver is down (503) when the dispatcher first tries; the process is then
 * killed without warning, the receiver comes back, and the server is started again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Bundle, Claim, ClaimResponse } from 'fhir/r4';
import { DATABASE_URL, freshSchema } from '../support/postgres';
import { eventNumberOf, freshRequest, param, startReceiver, subscriptionFor, until, sleep, type Receiver } from './support';

const REPO = path.join(__dirname, '../..');
const START_TIMEOUT = 150_000;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Running {
  child: ChildProcess;
  base: string;
  log: () => string;
}

async function startServer(env: Record<string, string>, port: number): Promise<Running> {
  let output = '';
  // The preload gives a new PGlite folder the run's empty cluster (no initdb: ~4 s of CPU).
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', './test/support/pglite-template.ts', 'src/server.ts'], {
    cwd: REPO,
    env: { ...process.env, NODE_OPTIONS: '', PORT: String(port), PUBLIC_BASE_URL: `http://127.0.0.1:${port}`, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const base = `http://127.0.0.1:${port}`;
  await until(async () => {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}): ${output.slice(-2000)}`);
    try {
      return (await fetch(`${base}/health`)).ok;
    } catch {
      return false;
    }
  }, START_TIMEOUT, async () => `server output: ${output.slice(-2000)}`);
  return { child, base, log: () => output };
}

async function kill9(running: Running): Promise<void> {
  if (running.child.exitCode !== null) return;
  const exited = new Promise((resolve) => running.child.once('exit', resolve));
  running.child.kill('SIGKILL');
  await exited;
}

async function post(base: string, url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${url}`, { method: 'POST', headers: { 'Content-Type': 'application/fhir+json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const cancelOf = (bundle: Bundle): Bundle => {
  const cancel = structuredClone(bundle);
  const claim = cancel.entry![0]!.resource as Claim;
  claim.extension = [
    ...(claim.extension ?? []),
    {
      url: 'http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-certificationType',
      valueCodeableConcept: { coding: [{ system: 'https://codesystem.x12.org/005010/1322', code: '3' }] },
    },
  ];
  return cancel;
};

const stores = [
  { name: 'a PGlite folder', enabled: true },
  { name: 'PostgreSQL', enabled: Boolean(DATABASE_URL) },
];

describe.each(stores)('SIGKILL between a decision and its delivery, on $name', ({ name, enabled }) => {
  const it_ = enabled ? it : it.skip;
  let receiver: Receiver;
  let dir: string;
  let drop: (() => Promise<void>) | undefined;
  let running: Running | undefined;

  beforeAll(async () => {
    if (!enabled) return;
    receiver = await startReceiver();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-crash-'));
  });
  afterAll(async () => {
    if (!enabled) return;
    if (running) await kill9(running);
    await receiver.close();
    fs.rmSync(dir, { recursive: true, force: true });
    await drop?.();
  });

  it_(
    'the notification arrives exactly once after the restart',
    async () => {
      const port = await freePort();
      const env: Record<string, string> = {
        SUBSCRIPTION_POLL_MS: '200',
        SUBSCRIPTION_TIMEOUT_MS: '2000',
        // Long enough that the first process does not retry before it is killed.
        SUBSCRIPTION_RETRY_BASE_MS: '4000',
        SUBSCRIPTION_MAX_ATTEMPTS: '5',
      };
      if (name === 'PostgreSQL') {
        const schema = await freshSchema();
        drop = schema.drop;
        env.DATABASE_URL = schema.databaseUrl;
      } else {
        env.DATABASE_URL = '';
        env.DATA_DIR = dir;
      }

      running = await startServer(env, port);
      const subscribed = await post(running.base, '/fhir/Subscription', subscriptionFor(receiver.url));
      expect(subscribed.status).toBe(201);
      expect(subscribed.body.status).toBe('active');

      const request = freshRequest();
      const submitted = await post(running.base, '/fhir/Claim/$submit', request);
      expect(submitted.status).toBe(200);
      const claimResponseId = ((submitted.body as unknown as Bundle).entry![0]!.resource as ClaimResponse).id;

      // The receiver goes down; the decision (a cancel) is committed with its outbox event.
      receiver.mode = 'fail';
      const cancelled = await post(running.base, '/fhir/Claim/$submit', cancelOf(request));
      expect(cancelled.status).toBe(200);
      await until(() => receiver.refused >= 1, 30_000);

      // Killed without warning between the decision and its delivery.
      await kill9(running);
      running = undefined;
      expect(receiver.events()).toHaveLength(0);

      receiver.mode = 'ok';
      running = await startServer(env, port);
      await until(() => receiver.events().length >= 1, 60_000);
      // Longer than a poll, a retry and a lease: nothing more comes.
      await sleep(6000);

      const events = receiver.events();
      expect(events).toHaveLength(1);
      const notification = events[0]!.body;
      expect(eventNumberOf(notification)).toBe(1);
      expect(param(notification, 'type')).toEqual({ name: 'type', valueCode: 'event-notification' });
      const response = (notification.entry![1]!.resource as Bundle).entry![0]!.resource as ClaimResponse;
      expect(response.id).toBe(claimResponseId);
      expect(response.meta?.versionId).toBe('2');
      expect(JSON.stringify(response.item?.[0]?.adjudication)).toContain('"code":"C"');
    },
    START_TIMEOUT * 2 + 120_000,
  );
});
