// How many requests may be in flight: found by measuring, not by guessing the protocol.
//
// Over HTTP/1.1 a browser opens 6 connections to a host; a request beyond them waits in its pool, so more in flight
// only adds delay. Over HTTP/2 one connection carries ~100 streams at once: 12 in flight at 100 ms is 120/s, a third of
// the limiter's 350/s. Neither can be read from a page (no browser sniffing), but both show in the round-trip times.
// In flight and throughput are tied by Little's law (throughput = in flight / RTT): while the RTT stays put, more in
// flight is more throughput; once the RTT grows with the window, the extra requests only queue.
//
// Rules, once per round. A round takes the RTTs of requests sent since it began (so it measures the window as it is
// now, with no lag), from the first answer on (before it: the connection, its TLS handshake, the CORS preflight and the
// page's own start), and ends at 12 of them and a window's worth. Its mean RTT `a` gives, by Little's law, the
// throughput the window carried: w / a.
// - The window was not full at any start of the round (the limiter or an empty queue held requests back): nothing is
//   learned about it; hold.
// - It grew last round and the throughput did not rise by half the growth: the growth only queued (HTTP/1.1's pool,
//   a busy browser); take it back, and grow gently from then on.
// - Else grow: x2 per round until the first growth taken back (a slow start), x1.125 after: a probe per round.
// - The mean over 2 x base (the least round mean, the RTT with none of ours queued): heavy queueing, as when the
//   network got busier or the window outgrew HTTP/1.1's connections; shrink to where the mean would be 1.25 x base.
//   (At the floor nothing of ours can queue: a slower round there is a slower network, and the new base.)
// - The mean over SLOW_MS (2.5 s): a queue that deep (HTTP/1.1's pool on a slow network) would time its tail out at the
//   request's 10 s, and a timeout is a failure with a backoff; shrink to where the mean would be SLOW_MS, never grow.
// - No answer (a timeout, a network error): halve, at once; its time is no RTT sample.
// Queueing costs more than delay here: the limiter counts a request until its answer and starts each 1 s burst from
// the answer of the request 350 places back, so every ms of RTT stretches every burst cycle; and a browser that is
// busy (loopback on 2 cores) answers later the more it holds, for no more throughput.
// Bounds: never under FLOOR (6: what HTTP/1.1 carries at once, so its pool always has a request ready); never over
// 350/s x base x 2 + FLOOR (in Klaviyo's 1 s window a request counts until its answer, so more in flight cannot go
// faster; x 2 for the spread of RTTs and the limiter's bursts; on the base, so that queueing cannot raise it).
// Start: 12 (two requests per HTTP/1.1 connection) until the first answer. That answer took two round trips at least
// (the CORS preflight, then the request; a new connection and TLS add more), so half its time bounds the RTT from
// above, and the window opens to OPEN (48) where even HTTP/1.1's pool would answer OPEN requests within SLOW_MS at
// that RTT (6 x SLOW_MS / RTT: a first answer within 625 ms), less where it would not. 48 carries the limiter's
// 350/s at a round trip of ~140 ms (350 x 0.14 = 49), so a long queue's first second goes out at the windows' pace
// instead of ramping up: a first burst is what every later 1 s cycle repeats (each request's slot comes back 1 s
// after its answer). Measured in Chromium (HTTP/2, 50-150 ms, 1500 identifies, the page opened with the browser's
// launch): from 12 with no opening, 4.9-6.4 s first to last; with it, 4.85-5.09 s (in a browser that has run a
// second: 4.69-4.87 s; opening to 96 instead: 4.73-4.79 s, no gain). Before the first answer each request pays its
// own CORS preflight (Chromium shares none in flight), one more reason to stay at 12 until then. Over HTTP/1.1 the
// requests past the 6 connections wait in the browser's pool: on loopback for milliseconds; far away in a pool whose
// 6 per round trip are the floor anyway, for up to ~2 s (nothing here shrinks the window back to the connections: a
// down-probe would).
// Pure: numbers in, numbers out; the state is plain numbers, mutated in place and returned, like the limiter's. The
// delivery's keepalive budget while the page is hidden is the delivery's: it sends at most min(limit(), budget).

/** The state: plain numbers. Fields end in `_`: the build shortens them. */
export interface Concurrency {
  /** The window (fractional): FLOOR or more, and within the cap since the last round. */
  window_: number;
  /** Growth per round: 2 until a growth is taken back, then 1.125. */
  growth_: number;
  /** The growth applied at the last round's end (1: none). */
  grew_: number;
  /** The throughput (window / mean RTT) of the last round that grew. */
  throughput_: number;
  /** Requests started and not answered yet. */
  inFlight_: number;
  /** Last time a start found the window full. */
  fullAt_: number;
  /** This round: when it began (never, until the first answer), its RTTs' sum and count. */
  roundAt_: number;
  rttSum_: number;
  rtts_: number;
  /** The least round mean RTT seen: the RTT with none of ours queued. */
  base_: number;
}

/** Floor of the window: HTTP/1.1's connections per host. */
export const FLOOR = 6;

/** Answers a round needs at least (and a window's worth). */
const ROUND = 12;

const NEVER = 1e15;

/** The window the first answer opens (see the header). */
export const OPEN = 48;

/** A round mean RTT (ms) past which the window shrinks: a quarter of the request timeout (10 s). */
const SLOW_MS = 2_500;

/** A new controller, starting at `start` (FLOOR or more) in flight; times are ms from 0 on (Date.now, performance.now). */
export const createConcurrency = (start = 12): Concurrency => ({
  window_: start,
  growth_: 2,
  grew_: 1,
  throughput_: 0,
  inFlight_: 0,
  fullAt_: -1,
  roundAt_: NEVER,
  rttSum_: 0,
  rtts_: 0,
  base_: NEVER,
});

/** The most requests in flight now. */
export const limit = (s: Concurrency): number => s.window_ | 0;

/** A request starts at `now` (ms). */
export function onStart(s: Concurrency, now: number): Concurrency {
  if (++s.inFlight_ >= limit(s)) s.fullAt_ = now;
  return s;
}

/** The request started at `sentAt` ended at `now` (ms): answered (`ok`, any status), or not (timeout, network error). */
export function onAnswer(s: Concurrency, sentAt: number, now: number, ok: boolean): Concurrency {
  s.inFlight_--;
  // The first answer opens the window as far as HTTP/1.1's pool could answer it within SLOW_MS (see the header).
  if (ok && s.roundAt_ == NEVER) s.window_ = Math.max(s.window_, Math.min(OPEN, (2 * FLOOR * SLOW_MS) / (now - sentAt)));
  s.roundAt_ = Math.min(s.roundAt_, now);
  if (!ok) {
    s.window_ = Math.max(FLOOR, s.window_ / 2);
    s.grew_ = 1;
    return s;
  }
  // Only requests sent in this round measure the window as it is now.
  if (sentAt < s.roundAt_) return s;
  s.rttSum_ += now - sentAt;
  if (++s.rtts_ >= ROUND && s.rtts_ >= s.window_) endRound(s, now);
  return s;
}

/** A round is complete: grow, hold, take the last growth back, or shrink (see the rules above). */
function endRound(s: Concurrency, now: number) {
  const rtt = s.rttSum_ / s.rtts_;
  const throughput = s.window_ / rtt;
  // At the floor nothing of ours can queue: a slower round there is a slower network, and the new base.
  const base = (s.base_ = s.window_ > FLOOR ? Math.min(s.base_, rtt) : rtt);
  let w = s.window_;
  let grew = 1;
  if (rtt > SLOW_MS) {
    w = (w * SLOW_MS) / rtt;
  } else if (rtt > 2 * base) {
    w = (w * 1.25 * base) / rtt;
  } else if (s.fullAt_ >= s.roundAt_) {
    if (s.grew_ > 1 && throughput < (s.throughput_ * (1 + s.grew_)) / 2) {
      w /= s.grew_;
      s.growth_ = 1.125;
    } else {
      grew = s.growth_;
      w *= grew;
      s.throughput_ = throughput;
    }
  }
  // The cap: 350/s x base x 2 (ms), plus the floor.
  s.window_ = Math.max(FLOOR, Math.min(0.7 * base + FLOOR, w));
  s.grew_ = s.window_ / w > 0.99 ? grew : 1;
  s.roundAt_ = now;
  s.rttSum_ = s.rtts_ = 0;
}
