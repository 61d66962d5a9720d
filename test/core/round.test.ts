import { describe, expect, it } from 'vitest';
import { MIN_SLEEP_MS, nextStep, type RoundView } from '../../src/core/round';

/** A round at t=1000 with one planned request that may start now, nothing in flight, a slot reserved. */
const view = (over: Partial<RoundView> = {}): RoundView => ({
  now: 1000,
  over: false,
  stale: false,
  replan: false,
  planned: 1,
  queued: 1,
  inFlight: 0,
  cap: 12,
  fails: 0,
  start: 1000,
  slots: 5,
  leaving: false,
  due: 0,
  ...over,
});

describe('nextStep: the delivery round as a state machine', () => {
  it.each<[string, Partial<RoundView>, ReturnType<typeof nextStep>]>([
    ['storage changed behind the mirror: read it', { stale: true, replan: true }, { do: 'read' }],
    ['the plan is stale: plan', { replan: true }, { do: 'plan' }],
    ['a request may start and a slot is reserved: send', {}, { do: 'send' }],
    ['no slot reserved: reserve first', { slots: 0 }, { do: 'reserve' }],
    ['no slot, but the page is hiding: send without waiting for storage', { slots: 0, leaving: true }, { do: 'send' }],
    ['the limiter says later: sleep until then', { start: 1350 }, { do: 'sleep', until: 1350, quiet: false }],
    ['the pipeline is full: sleep until an answer', { inFlight: 12, start: 1000 }, { do: 'sleep', until: Infinity, quiet: false }],
    ['failing: one probe at a time', { inFlight: 1, fails: 3 }, { do: 'sleep', until: Infinity, quiet: false }],
    ['failing, nothing in flight: the probe goes', { fails: 3 }, { do: 'send' }],
    ['nothing queued, nothing in flight: end', { planned: 0, queued: 0 }, { do: 'end' }],
    ['nothing queued, answers pending: wait for them', { planned: 0, queued: 0, inFlight: 2 }, { do: 'sleep', until: Infinity, quiet: false }],
    ['items wait on a retry: sleep until it is due, flush() callers done', { planned: 0, queued: 3, due: 6000 }, { do: 'sleep', until: 6000, quiet: true }],
    ['items due now but held back (a person in two values): never spin', { planned: 0, queued: 3, due: 1000 }, { do: 'sleep', until: 1000 + MIN_SLEEP_MS, quiet: false }],
    ['the account switched, requests in flight: let them settle', { over: true, stale: true, inFlight: 3 }, { do: 'sleep', until: Infinity, quiet: false }],
    ['the account switched, all settled: end, whatever is queued', { over: true, stale: true, queued: 40, planned: 7 }, { do: 'end' }],
  ])('%s', (_, v, step) => {
    expect(nextStep(view(v))).toEqual(step);
  });

  it('reads only what it needs: a sending round never computes the queue or the due time', () => {
    const v = view();
    Object.defineProperty(v, 'queued', { get: () => expect.unreachable('queued read') });
    Object.defineProperty(v, 'due', { get: () => expect.unreachable('due read') });
    expect(nextStep(v)).toEqual({ do: 'send' });
  });

  it('a round of 3 requests with a cap of 2: send, send, wait for an answer, send, wait, end', () => {
    // Drive the machine by hand, performing each step on plain numbers.
    let v = view({ planned: 3, queued: 3, cap: 2 });
    const steps: string[] = [];
    for (let i = 0; i < 10; i++) {
      const s = nextStep(v);
      steps.push(s.do);
      if (s.do == 'end') break;
      if (s.do == 'send') v = { ...v, planned: v.planned - 1, inFlight: v.inFlight + 1 };
      // An answer arrives while sleeping: one in flight fewer, its item delivered.
      else if (s.do == 'sleep') v = { ...v, inFlight: v.inFlight - 1, queued: v.queued - 1 };
    }
    expect(steps).toEqual(['send', 'send', 'sleep', 'send', 'sleep', 'sleep', 'end']);
  });
});
