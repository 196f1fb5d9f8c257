import { withTimeout } from '../../src/core/promises';

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
