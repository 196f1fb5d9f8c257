/**
 * Delivery of PAS notifications from the durable outbox.
 *
 * Each tick: (1) fan out the undispatched `claim_events` to the matching subscriptions, in one
 * transaction (rows FOR UPDATE SKIP LOCKED, so two instances never take the same event); (2) lease
 * the due notifications (SKIP LOCKED again; the lease outlasts the POST timeout, so no other
 * instance sends the same one meanwhile), post them, and record delivered, or a retry after an
 * exponential backoff, or after `maxAttempts` the notification failed and its Subscription `error`.
 *
 * Nothing is lost across a crash: an event not yet fanned out stays undispatched; a notification
 * leased by a process that died becomes due again when its lease ends. Delivery is therefore at
 * least once per event (a crash after the endpoint answered but before the row was updated
 * resends); event numbers let the receiver drop a duplicate.
 */
import type { Logger } from '../logger';
import type { DueNotification, OutboxStats, Store } from '../store';
import { eventNotificationBundle } from './notification';
import { sendNotification, type Sender } from './sender';

export interface DispatcherOptions {
  store: Store;
  /** `{publicBaseUrl}/fhir`, for the references in notifications. */
  fhirBase: string;
  logger: Logger;
  pollMs: number;
  timeoutMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** Events fanned out and notifications leased per tick. */
  batchSize?: number;
  sender?: Sender;
  clock?: () => Date;
  /** Metrics hook (e.g. src/ops/metrics.ts): outbox depth and this tick's deliveries after every tick. */
  onTick?: (tick: DispatchTick) => void;
}

export interface DispatchResult {
  fannedOut: number;
  delivered: number;
  /** Failed attempts in this tick (retried or given up). */
  failedAttempts: number;
  /** Notifications given up on in this tick (their Subscription went to error). */
  gaveUp: number;
}

/** What the metrics hook gets after every tick: the tick's work and the outbox depth after it. */
export type DispatchTick = DispatchResult & OutboxStats;

export interface Dispatcher {
  start(): void;
  /** Stops polling and waits for the tick in progress. */
  stop(): Promise<void>;
  /** One tick now (tests, and `start`'s loop). */
  runOnce(): Promise<DispatchResult>;
}

/** Delay before the attempt after `attempts` failed ones: base · 2^(attempts-1), capped. */
export function backoffMs(attempts: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1));
}

export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { store, logger } = options;
  const send = options.sender ?? sendNotification;
  const clock = options.clock ?? (() => new Date());
  const batch = options.batchSize ?? 50;
  // A lease long enough that no other instance resends while this one is still waiting for an answer.
  const leaseMs = options.timeoutMs * 2 + 5000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = true;

  async function deliver(n: DueNotification): Promise<'delivered' | 'retry' | 'gave-up'> {
    const focus = await store.getResponseBundleVersion(n.claimId, n.claimVersion);
    if (!focus) {
      await store.markNotificationFailed(n.id, `ClaimResponse version ${n.claimVersion} of claim ${n.claimId} is not on file`, null);
      return 'gave-up';
    }
    const subscription = { id: n.subscriptionId, status: 'active' as const, eventsSinceStart: n.eventsSinceStart, lastError: null };
    const bundle = eventNotificationBundle(options.fhirBase, subscription, { eventNumber: n.eventNumber, timestamp: n.eventAt, focus }, clock());
    const result = await send(n.endpoint, n.headers, bundle, options.timeoutMs);
    if (result.ok) {
      await store.markNotificationDelivered(n.id);
      logger.info('subscription.delivered', { subscription: n.subscriptionId, event: n.eventNumber, attempts: n.attempts, ms: result.ms });
      return 'delivered';
    }
    const error = result.error ?? 'delivery failed';
    const giveUp = n.attempts >= options.maxAttempts;
    await store.markNotificationFailed(n.id, error, giveUp ? null : backoffMs(n.attempts, options.retryBaseMs, options.retryMaxMs));
    logger.warn(giveUp ? 'subscription.error' : 'subscription.retry', {
      subscription: n.subscriptionId,
      event: n.eventNumber,
      attempts: n.attempts,
      error,
    });
    return giveUp ? 'gave-up' : 'retry';
  }

  async function runOnce(): Promise<DispatchResult> {
    let fannedOut = 0;
    for (;;) {
      const { events } = await store.fanOutClaimEvents(batch);
      fannedOut += events;
      if (events < batch) break;
    }
    const due = await store.leaseDueNotifications(batch, leaseMs);
    const outcomes = await Promise.all(
      due.map((n) =>
        deliver(n).catch((error: unknown) => {
          // A store error here leaves the lease to expire: the notification is retried, not lost.
          logger.error('subscription.dispatch-failed', { subscription: n.subscriptionId, error: (error as Error).message });
          return 'retry' as const;
        }),
      ),
    );
    const tick: DispatchResult = {
      fannedOut,
      delivered: outcomes.filter((o) => o === 'delivered').length,
      failedAttempts: outcomes.filter((o) => o !== 'delivered').length,
      gaveUp: outcomes.filter((o) => o === 'gave-up').length,
    };
    if (options.onTick) options.onTick({ ...tick, ...(await store.outboxStats()) });
    return tick;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = runOnce()
        .catch((error: unknown) => logger.error('subscription.tick-failed', { error: (error as Error).message }))
        .finally(() => {
          running = undefined;
          schedule();
        });
    }, options.pollMs);
    timer.unref();
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
    runOnce,
  };
}
