/**
 * True when `promise` resolves within `ms`, false when the time runs out first; its rejection is
 * thrown. The timer is cleared either way, so it never keeps the process alive.
 */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `run(signal)`, with `signal` aborted (a TimeoutError) when `run` has not settled within `ms`.
 * `AbortSignal.timeout` would fire seconds after the work is done, every time: a DOMException and
 * an abort event per call (~0.4 ms of main-thread CPU per CDS hook that reads the EHR). This timer is
 * cleared once `run` settles, and never keeps the process alive.
 */
export async function withTimeout<T>(ms: number, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(`no answer within ${ms} ms`, 'TimeoutError')), ms);
  timer.unref();
  try {
    return await run(controller.signal);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resumes once the event loop has polled for I/O, so that sliced work lets in the requests that
 * arrived during a slice. One `setImmediate` called from an I/O callback resumes in that same turn's
 * check phase, before the loop polls again: a 1,000-line Claim's checks and context ran back to back.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

/**
 * How long work done in time slices (a large Claim's steps, its answer's building and its JSON)
 * holds the event loop before it lets other requests in; `timeSlices`' default. Measured with
 * small `$submit`s (1 client) beside back-to-back 1,000-item Claims, three alternating rounds of
 * 20 s: with 4 ms their p99 was 115–128 ms and p90 86–97, against 131–144 and 98–106 with 8 ms;
 * their p50 rose from 43–50 to 52–60 ms. The bench's isolation section (two alternating rounds of
 * 15 s) showed no difference beyond its noise.
 */
export const SLICE_MS = 4;

/**
 * Bookkeeping for work done in time slices: `due()` (cheap, synchronous) says `sliceMs` have passed
 * since the last pause; `pause()` lets the event loop in and starts the next slice.
 */
export function timeSlices(sliceMs = SLICE_MS): { due(): boolean; pause(): Promise<void> } {
  let since = performance.now();
  return {
    due: () => performance.now() - since >= sliceMs,
    async pause() {
      await yieldToEventLoop();
      since = performance.now();
    },
  };
}
