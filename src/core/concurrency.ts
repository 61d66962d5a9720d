// How many requests may be in flight: found by measuring, not by guessing the protocol.
//
// Over HTTP/1.1 a browser opens 6 connections to a host; a request beyond them waits in its pool, so more in flight
// only adds delay. Over HTTP/2 one connection carries ~100 streams at once: 12 in flight at 100 ms is 120/s, a third of
// the limiter's 350/s. Neither can be read from a page (no browser sniffing), but both show in the round-trip times.
// In flight and throughput are tied by Little's law (throughput = in flight / RTT): while the RTT stays put, more in
// flight is more throughput; once the RTT grows with the window, the extra requests only queue.
//
// Rules, once per round (Vegas-like): a round takes the RTTs of requests sent since it began (so it measures the
// window as it is now, with no lag) and ends at 12 of them and a window's worth; its mean RTT is compared with the
// least round mean seen (base: the RTT with none of ours queued; at the floor, where nothing of ours can queue, the
// round's mean is the base, so a network that got slower for good is learned again).
// - mean over 1.5 x base: queueing. Shrink to where the mean would be 1.25 x base (w x 1.25 base / mean), and grow
//   gently from then on.
// - else, if the window was full at some start of the round (the limiter or an empty queue did not hold requests
//   back: such a round says nothing about the window): grow, x2 per round until the first queueing (a slow start),
//   x1.125 after.
// - an error or timeout (no answer) halves the window, at once; its time is no RTT sample.
// Bounds: never under FLOOR (6: what HTTP/1.1 carries at once, so its pool always has a request ready); never over
// 350/s x mean RTT x 2 (in Klaviyo's 1 s window a request counts until its answer, so more in flight cannot go faster;
// x 2 for the spread of RTTs and the limiter's bursts). Before the first round: the start value, by default 12 (today's
// fixed MAX_IN_FLIGHT, so loopback and HTTP/1.1 start as they do now; a start over the connections a network has makes
// the base a little high, and HTTP/1.1 settles at 2-2.5 x its 6 connections instead of 1.5-2 x from 8, which costs
// nothing there: the pool keeps the connections busy either way).
// Pure: numbers in, numbers out; the state is plain numbers, mutated in place and returned, like the limiter's. The
// delivery's keepalive budget while the page is hidden is the delivery's: it sends at most min(limit(), budget).

/** The state. Fields end in `_` so the build shortens them (build.mjs). */
export interface Concurrency {
  /** The window (fractional): FLOOR or more, and within the cap since the last round. */
  w_: number;
  /** Growth per round: 2 until the first queueing, then 1.125. */
  g_: number;
  /** Requests started and not answered yet. */
  f_: number;
  /** Last time a start found the window full. */
  u_: number;
  /** This round: when it began, its RTTs' sum and count. */
  e_: number;
  s_: number;
  c_: number;
  /** The least round mean RTT seen (base). */
  b_: number;
}

/** Floor of the window: HTTP/1.1's connections per host. */
export const FLOOR = 6;

/** A new controller, starting at `start` (FLOOR or more) in flight; times are ms from 0 on (Date.now, performance.now). */
export const createConcurrency = (start = 12): Concurrency => ({ w_: start, g_: 2, f_: 0, u_: -1, e_: 0, s_: 0, c_: 0, b_: Infinity });

/** The most requests in flight now. */
export const limit = (s: Concurrency): number => s.w_ | 0;

/** A request starts at `now` (ms). */
export const onStart = (s: Concurrency, now: number): Concurrency => {
  if (++s.f_ >= limit(s)) s.u_ = now;
  return s;
};

/** The request started at `sentAt` ended at `now` (ms): answered (`ok`, any status), or not (timeout, network error). */
export const onAnswer = (s: Concurrency, sentAt: number, now: number, ok: boolean): Concurrency => {
  s.f_--;
  if (!ok) s.w_ = Math.max(FLOOR, s.w_ / 2);
  else if (sentAt >= s.e_ && ((s.s_ += now - sentAt), ++s.c_ > 11 && s.c_ >= s.w_)) {
    const a = s.s_ / s.c_;
    // (At the floor nothing of ours can be queued: a slower round there is a slower network, and the new base.)
    const b = (s.b_ = s.w_ > FLOOR ? Math.min(s.b_, a) : a);
    s.w_ = Math.max(
      FLOOR,
      Math.min(
        // 350/s x 2 (ms): the cap
        0.7 * a + 1,
        a > 1.5 * b ? ((s.g_ = 1.125), (s.w_ * 1.25 * b) / a) : s.u_ >= s.e_ ? s.w_ * (a > 1.25 * b ? (s.g_ = 1.125) : s.g_) : s.w_,
      ),
    );
    s.e_ = now;
    s.s_ = s.c_ = 0;
  }
  return s;
};
