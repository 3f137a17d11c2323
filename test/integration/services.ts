// In-process app instances over the sandbox: each createServices() call is one independent instance
// (its own L1, its own msal-node clients), with real msal-node and @azure/cosmos over HTTPS.
import { loadConfig } from '../../shared/config.js';
import type { Env } from '../../shared/config/settingReader.js';
import { createServices, type Services } from '../../shared/runtime.js';
import { RequestTelemetry } from '../../shared/telemetry.js';
import { sandbox } from '../sandbox.js';

export function instance(settings: Env = {}): Promise<Services> {
  return createServices(loadConfig({ ...sandbox().settings, ...settings }));
}

export function telemetry(warnings: string[] = []): RequestTelemetry {
  return new RequestTelemetry({ warn: (message) => warnings.push(message) });
}
