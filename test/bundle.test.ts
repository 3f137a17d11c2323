// The deployable bundle, as the Functions worker loads it: built by `npm run build`, imported as an ES
// module with '@azure/functions-core' served the way the worker serves it.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { beforeAll, describe, expect, test } from '@jest/globals';

import { sandbox } from './sandbox.js';

interface Registration {
  name: string;
  bindings: Record<
    string,
    { type: string; direction: string; route?: string; methods?: string[]; authLevel?: string }
  >;
}

let registrations: Registration[] = [];
let stderr = '';

beforeAll(() => {
  const build = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts'], { encoding: 'utf8' });
  expect(build.status).toBe(0);
  const worker = spawnSync(
    process.execPath,
    [
      '--require',
      './test/fixtures/functionsWorkerCore.cjs',
      '--input-type=module',
      '-e',
      "await import('./dist/main.js')",
    ],
    { encoding: 'utf8', env: { ...process.env, ...sandbox().settings } },
  );
  expect(worker.status).toBe(0);
  stderr = worker.stderr;
  registrations = worker.stdout
    .split('\n')
    .filter((line) => line.startsWith('REGISTERED '))
    .map((line) => JSON.parse(line.slice('REGISTERED '.length)) as Registration);
}, 60_000);

/** The files of functions/ that register functions (all but the entry and the instance's services). */
function functionFiles(): string[] {
  return readdirSync('functions').filter(
    (file) => file.endsWith('.ts') && !['index.ts', 'instance.ts'].includes(file),
  );
}

function trigger(name: string) {
  return Object.values(registrations.find((r) => r.name === name)?.bindings ?? {}).find(
    (b) => b.type === 'httpTrigger',
  );
}

describe('dist/main.js in the Functions worker', () => {
  test('registers every HTTP function with its route and methods', () => {
    // Every function a file of functions/ declares (`registerHttpFunction('<name>', ...)`), and no other.
    const declared = functionFiles().flatMap((file) =>
      [...readFileSync(join('functions', file), 'utf8').matchAll(/registerHttpFunction\(\s*'([^']+)'/g)].map(
        ([, name]) => name,
      ),
    );
    expect(registrations.map((r) => r.name).sort()).toEqual(declared.sort());
    expect(declared).toEqual(expect.arrayContaining(['getMe', 'getMyEvents', 'listTasks', 'getHealth']));
    expect(trigger('createMyEvent')).toMatchObject({ route: 'me/events', methods: ['POST'] });
    expect(trigger('listTasks')).toMatchObject({ route: 'tasks', methods: ['GET'] });
    expect(trigger('createTask')).toMatchObject({ route: 'tasks', methods: ['POST'] });
    for (const [name, method] of [
      ['getTask', 'GET'],
      ['updateTask', 'PATCH'],
      ['deleteTask', 'DELETE'],
    ] as const) {
      expect(trigger(name)).toMatchObject({ route: 'tasks/{id}', methods: [method], authLevel: 'anonymous' });
    }
    expect(trigger('getMyEvents')).toMatchObject({
      route: 'me/events',
      methods: ['GET'],
      authLevel: 'anonymous',
    });
    expect(trigger('getMe')).toMatchObject({ route: 'me', methods: ['GET'], authLevel: 'anonymous' });
    expect(trigger('deleteMyTokenCache')).toMatchObject({ route: 'me/token-cache', methods: ['DELETE'] });
    expect(trigger('getHealth')).toMatchObject({ route: 'health', methods: ['GET'] });
  });

  test('functions/index.ts imports every function file (a file it misses is a route that silently does not exist)', () => {
    const entry = readFileSync('functions/index.ts', 'utf8');
    const missing = functionFiles()
      .map((file) => `import './${file.replace(/\.ts$/, '.js')}';`)
      .filter((line) => !entry.includes(line))
      .map((line) => `functions/index.ts: add ${line}`);
    expect(missing).toEqual([]);
  });

  test('loads without warnings or errors when configured', () => {
    expect(stderr).toBe('');
  });
});
