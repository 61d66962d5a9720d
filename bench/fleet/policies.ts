// The 429 rules compared. Each is an afterFailure whose failures other than a 429 go through src/core/streak.ts's
// own afterFailure: only what a 429 does differs. The adopted rule is that afterFailure itself, unchanged.
import { afterFailure, type Streak } from '../../src/core/streak';
import type { AfterFailure } from './tracker';
import type { Policy } from './sim';

/** A 429 rule: the streak, the server's pause end (now + Retry-After), when the refused request started, now. */
type PauseRule = (s: Streak, until: number, sentAt: number, now: number, random: () => number) => number;

const on429 = (rule: PauseRule): AfterFailure => (s, v, sentAt, now, random) =>
  v.action == 'pause' ? rule(s, v.until, sentAt, now, random) : afterFailure(s, v, sentAt, now, random);

const MIN = 60_000;

export const POLICIES: Policy[] = [
  {
    name: 'exact',
    about: "today's (src/core/streak.ts before issue 16): every 429 pauses exactly Retry-After",
    make: () => on429((s, until) => (s.throttled = Math.max(s.throttled, until))),
  },
  {
    name: 'jitter',
    about: 'Retry-After plus a uniform draw of up to half of it again, on every 429',
    make: () => on429((s, until, _sentAt, now, random) => (s.throttled = Math.max(s.throttled, until + random() * 0.5 * (until - now)))),
  },
  {
    name: 'spread',
    about:
      'adopted (src/core/streak.ts): a first 429 waits Retry-After + up to half of it; a 429 again within a minute of ' +
      'the pause ending spreads over W (W + RA) / (W - RA) past Retry-After (W = 60 s), at most 3 min',
    make: () => afterFailure,
  },
  {
    name: 'oracle',
    about:
      'reference, not implementable: spreads every 429 uniformly over the time the account needs for the whole ' +
      'backlog (read from the simulation: visitors with an update not accepted yet / 3500 per min), at most 30 min',
    make: ({ backlog }) => on429((s, until, _sentAt, _now, random) => (s.throttled = Math.max(s.throttled, until + random() * Math.min(30 * MIN, (backlog() / 3500) * MIN)))),
  },
];
