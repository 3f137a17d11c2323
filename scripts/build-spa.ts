// `tsx scripts/build-spa.ts <out dir>`: the sample SPA's static files for Azure Static Web Apps (azd's prepackage
// hook of the `web` service), with config.json from the azd environment's values: no id typed by hand.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import type { SpaConfig } from '../dev/spa/browser/config.js';
import { buildSpa, contentSecurityPolicy } from '../dev/spa/build.js';

const REQUIRED = [
  'SPA_CLIENT_ID',
  'SPA_API_SCOPE',
  'SERVICE_API_URI',
  'ENTRA_AUTHORITY_HOST',
  'ENTRA_TENANT_ID',
];

const outDir = resolve(process.argv[2] ?? 'infra/build/spa');
const missing = REQUIRED.filter((name) => (process.env[name] ?? '') === '');
if (missing.length > 0) {
  console.error(
    `build-spa: ${missing.join(', ')} not set; run it from azd (azd package web) after azd provision`,
  );
  process.exit(1);
}
const env = (name: string): string => process.env[name] ?? '';
const config: SpaConfig = {
  clientId: env('SPA_CLIENT_ID'),
  authority: `${env('ENTRA_AUTHORITY_HOST')}/${env('ENTRA_TENANT_ID')}`,
  apiBaseUrl: `${env('SERVICE_API_URI').replace(/\/$/, '')}/api`,
  apiScope: env('SPA_API_SCOPE'),
};
const files = await buildSpa({ minify: true });
await rm(outDir, { recursive: true, force: true });
await mkdir(outDir, { recursive: true });
for (const name of ['index.html', 'app.css', 'app.js'] as const)
  await writeFile(join(outDir, name), files[name]);
await writeFile(join(outDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
// Static Web Apps' own headers: the same Content-Security-Policy as the sandbox serves, and no caching of config.
await writeFile(
  join(outDir, 'staticwebapp.config.json'),
  `${JSON.stringify(
    {
      globalHeaders: {
        'content-security-policy': contentSecurityPolicy(config),
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      },
      routes: [{ route: '/config.json', headers: { 'cache-control': 'no-store' } }],
    },
    null,
    2,
  )}\n`,
);
console.log(`built the sample SPA in ${outDir} for ${config.apiBaseUrl}`);
