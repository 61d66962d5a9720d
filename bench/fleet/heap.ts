// The simulation's event queue: a binary min-heap of events keyed by simulated time (integer ms), ties broken by
// the order of scheduling, so a run is the same for the same seed whatever the heap's internal layout.

export interface Timed {
  at: number;
  /** Scheduling order: set by push. */
  seq: number;
}

export class EventHeap<E extends Timed> {
  private items: E[] = [];
  private seq = 0;

  get size(): number {
    return this.items.length;
  }

  /** The earliest event, or undefined. */
  peek(): E | undefined {
    return this.items[0];
  }

  push(e: E): void {
    e.seq = this.seq++;
    const a = this.items;
    let i = a.push(e) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(e, a[p]!)) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = e;
  }

  pop(): E | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (!a.length || !last) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= a.length) break;
      const r = l + 1;
      const c = r < a.length && before(a[r]!, a[l]!) ? r : l;
      if (!before(a[c]!, last)) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = last;
    return top;
  }
}

const before = (x: Timed, y: Timed) => x.at < y.at || (x.at === y.at && x.seq < y.seq);
