// Local Functions hosts as separate processes (independent module graphs), pointed at the sandbox.
import { type HostProcess, startHostProcess } from '../../dev/host/hostProcess.js';
import { sandbox } from '../sandbox.js';

export interface TestHost extends HostProcess {
  /** Every line the host logged: one JSON request line per call. */
  lines: string[];
}

export async function startHosts(count: number, settings: Record<string, string> = {}): Promise<TestHost[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const lines: string[] = [];
      const host = await startHostProcess({
        port: 0,
        // The bundle `npm test` built for the run (dev/sandbox/runTests.ts), else the sources.
        entry: process.env.TEST_HOST_ENTRY ?? 'functions/index.ts',
        env: { ...sandbox().settings, ...settings },
        // Files run in parallel workers: on a loaded machine a tsx host takes longer than the 30 s default.
        startTimeoutMs: 50_000,
        onLine: (line) => lines.push(line),
      });
      return { ...host, lines };
    }),
  );
}

/** The structured request log lines (`{"event":"request",...}`) a host wrote. */
export function requestLogs(host: TestHost): Record<string, unknown>[] {
  return host.lines.flatMap((line) => {
    const start = line.indexOf('{"event":"request"');
    if (start < 0) return [];
    return [JSON.parse(line.slice(start)) as Record<string, unknown>];
  });
}

/**
 * The request log lines written after the first `seen`, once `count` of them have arrived: a host writes a
 * request's line as it answers, so the line can reach this process just after the answer does.
 */
export async function nextRequestLogs(
  host: TestHost,
  seen: number,
  count = 1,
): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const logs = requestLogs(host).slice(seen);
    if (logs.length >= count || Date.now() > deadline) return logs;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
