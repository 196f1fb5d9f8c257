import net from 'node:net';
import { timeSlices, withTimeout, yieldToEventLoop } from '../../src/core/promises';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('withTimeout', () => {
  test('gives what the work gives, and never aborts its signal afterwards', async () => {
    let seen: AbortSignal | undefined;
    const value = await withTimeout(30, async (signal) => {
      seen = signal;
      return 7;
    });
    expect(value).toBe(7);
    await sleep(60);
    // AbortSignal.timeout would have fired by now, on work long done.
    expect(seen?.aborted).toBe(false);
  });

  test('aborts the signal with a TimeoutError when the work runs past the time', async () => {
    const started = Date.now();
    const outcome = withTimeout(30, (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error))));
    await expect(outcome).rejects.toMatchObject({ name: 'TimeoutError', message: 'no answer within 30 ms' });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  test('a rejection of the work is passed on as it is', async () => {
    await expect(withTimeout(1000, () => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
  });
});

describe('yieldToEventLoop', () => {
  test('from an I/O callback, resumes after the I/O that arrived meanwhile (a single setImmediate does not)', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    await new Promise((resolve) => client.once('connect', resolve));
    const socket = await accepted;
    const run = (pause: () => Promise<unknown>) =>
      new Promise<string[]>((resolve) => {
        const order: string[] = [];
        socket.on('data', function onData(chunk: Buffer) {
          if (chunk.toString() === 'other') {
            order.push('other request');
            return;
          }
          // Handling a request, inside its I/O callback: another one arrives meanwhile.
          client.write('other');
          const until = performance.now() + 20;
          while (performance.now() < until);
          void pause().then(() => {
            order.push('resumed');
            setTimeout(() => {
              socket.off('data', onData);
              resolve(order);
            }, 20);
          });
        });
        client.write('first');
      });
    try {
      expect(await run(yieldToEventLoop)).toEqual(['other request', 'resumed']);
      expect(await run(() => new Promise((r) => setImmediate(r)))).toEqual(['resumed', 'other request']);
    } finally {
      client.destroy();
      socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('timeSlices', () => {
  test('due once the slice has passed; a pause lets waiting callbacks in and starts the next slice', async () => {
    const slices = timeSlices(20);
    expect(slices.due()).toBe(false);
    const until = performance.now() + 25;
    while (performance.now() < until);
    expect(slices.due()).toBe(true);
    let timerRan = false;
    setImmediate(() => (timerRan = true));
    await slices.pause();
    expect(timerRan).toBe(true);
    expect(slices.due()).toBe(false);
  });
});
