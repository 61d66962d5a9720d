// dispatch: one pushed command, read defensively, to the tracker's command of that name.

/** A command as pushed: `['identify', {...}]`; `p` carries the stub's promise settlers. */
export type Command = unknown[] & { p?: [(v?: unknown) => void, (e: unknown) => void] };

/** The commands a page may push: each returns its promise, or nothing when it acted at once (`account`, `config`). */
export interface Commands {
  identify(arg: unknown): Promise<unknown>;
  account(arg: unknown): Promise<never> | void;
  config(arg: unknown): Promise<never> | void;
}

/** Run one pushed command; never throws. `fail` reports a bad command (console) and returns its rejection; the
 *  stub's promise, when the command carries one, is settled with the outcome. */
export function dispatch(cmd: unknown, commands: Commands, fail: (msg: string) => Promise<never>): Promise<unknown> {
  const c = cmd as Command;
  let out: Promise<unknown> | void;
  let p: Command['p'];
  try {
    if (!Array.isArray(c)) out = fail("push: expected an array like ['identify', {...}]");
    else {
      // The stub's settlers are read here, inside the try: a Proxy command may throw on any read.
      if (c.p) p = [c.p[0], c.p[1]];
      const [name, arg] = c;
      const label = JSON.stringify(typeof name === 'string' ? name.slice(0, 40) : typeof name);
      if (c.length > 2) out = fail(`push: ${label} takes one argument`);
      else if (name === 'identify' || name === 'account' || name === 'config') out = commands[name](arg);
      else out = fail(`push: unknown command ${label}`);
    }
  } catch {
    // Last line of defence: a Proxy or getter that throws where validation did not look.
    out = fail('push: the command could not be read');
  }
  const done = out || Promise.resolve();
  if (p) done.then(p[0], p[1]);
  else done.catch(() => {}); // push() has no caller to tell: the console error is the report
  return done;
}
