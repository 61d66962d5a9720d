// A virtual X display for WebKitGTK's MiniBrowser (it has no headless mode). Xvfb picks a free display
// number itself (-displayfd writes it to us), so parallel runs never collide; TCP is off.
import { rmSync } from 'node:fs';
import { spawnGroup } from './procs';

export interface Display {
  /** For DISPLAY, e.g. ":3". */
  display: string;
  close(): Promise<void>;
}

export async function startXvfb(xvfb = 'Xvfb', timeoutMs = 10_000): Promise<Display> {
  const g = spawnGroup(xvfb, ['-displayfd', '3', '-screen', '0', '1280x800x24', '-nolisten', 'tcp'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  let stderr = '';
  g.proc.stderr!.on('data', (d) => (stderr += d));
  const n = await new Promise<string>((resolve, reject) => {
    let out = '';
    const fail = (why: string) => reject(new Error(`Xvfb did not start: ${why}${stderr ? '\n' + stderr.trim() : ''}`));
    const t = setTimeout(() => fail(`no display number after ${timeoutMs} ms`), timeoutMs);
    g.proc.stdio[3]!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) {
        clearTimeout(t);
        resolve(out.trim());
      }
    });
    g.proc.once('error', (e) => (clearTimeout(t), fail(e.message)));
    void g.exited.then(() => (clearTimeout(t), fail('it exited')));
  }).catch(async (e) => {
    await g.kill();
    throw e;
  });
  return {
    display: ':' + n,
    async close() {
      // SIGTERM: Xvfb removes its lock file and socket itself. After a SIGKILL we remove them.
      await g.kill('SIGTERM', 2000);
      if (g.proc.signalCode === 'SIGKILL') for (const f of [`/tmp/.X${n}-lock`, `/tmp/.X11-unix/X${n}`]) rmSync(f, { force: true });
    },
  };
}
