// Processes the engine adapters start themselves (Xvfb, WebKitWebDriver and the MiniBrowser it starts): each in
// a process group of its own (`detached`), so one signal to the group ends the program and every helper it
// started. A group still alive when node exits (a test run cut short) is SIGKILLed then.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const live = new Set<number>();
process.once('exit', () => {
  for (const pid of live) signalGroup(pid, 'SIGKILL');
});

/** Send `signal` to the process group led by `pid`; false if there is none left. */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

export interface Group {
  proc: ChildProcess;
  /** Resolves when the group leader has exited (or could not start). */
  exited: Promise<void>;
  /** Signal the whole group (default SIGKILL) and wait for the leader; after SIGTERM, SIGKILL if it lingers past graceMs. */
  kill(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/** Spawn `cmd` as the leader of a new process group. Output is ignored unless `opts.stdio` says otherwise. */
export function spawnGroup(cmd: string, args: string[], opts: SpawnOptions = {}): Group {
  const proc = spawn(cmd, args, { stdio: 'ignore', ...opts, detached: true });
  const pid = proc.pid;
  if (pid) live.add(pid);
  const exited = new Promise<void>((r) => {
    proc.once('exit', () => r());
    proc.once('error', () => r()); // ENOENT and the like: nothing to wait for
  });
  void exited.then(() => pid && live.delete(pid));
  return {
    proc,
    exited,
    async kill(signal = 'SIGKILL', graceMs = 2000) {
      if (!pid || proc.exitCode !== null || proc.signalCode !== null) {
        // The leader is gone; helpers it left in the group may not be.
        if (pid) signalGroup(pid, 'SIGKILL');
        return;
      }
      signalGroup(pid, signal);
      if (signal === 'SIGKILL') return exited;
      const t = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
      signalGroup(pid, 'SIGKILL'); // any helper the leader did not take down with it
    },
  };
}

/** A TCP port free on 127.0.0.1 right now (the caller binds it next; a lost race shows as a failed start). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** The pid of the one process whose command line has `arg` and no `--type=` (a Chromium helper has one). */
export function pidWithArg(arg: string): number | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const args = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (args.includes(arg) && !args.some((a) => a.startsWith('--type='))) return Number(d);
    } catch {
      // exited meanwhile
    }
  }
  return undefined;
}
