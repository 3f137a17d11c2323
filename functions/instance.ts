/**
 * The composition root: this Functions instance's state, its telemetry and its services, built once from
 * the app settings. Each function file hands the services to its handler's factory; tests give factories fakes.
 */
// The module object itself, which the Functions OpenTelemetry instrumentation patches (see shared/http/azureFunctions.ts).
import azureFunctions from '@azure/functions';

import { describeConfig, loadConfig } from '../shared/config.js';
import { noObservability, type Observability } from '../shared/observability/observability.js';
import { readTelemetrySettings } from '../shared/observability/settings.js';
import { startObservability } from '../shared/observability/start.js';
import { createServices, lazyServices } from '../shared/runtime.js';

/**
 * Telemetry starts at load and apart from the app's configuration, so a misconfigured app still exports the
 * error that names its bad setting. A bad telemetry setting is logged by name and leaves telemetry off.
 */
export const instanceObservability: Promise<Observability> = startObservability(
  readTelemetrySettings(process.env),
  { azureFunctions },
).catch((error: unknown) => {
  console.error(`obo-graph-api telemetry is off: ${error instanceof Error ? error.message : String(error)}`);
  return noObservability();
});

export const instanceServices = lazyServices(async () =>
  createServices(loadConfig(process.env), { observability: await instanceObservability }),
);

/**
 * Starts building the services at load time. The configuration summary (no secrets) is logged for the
 * operator, never answered to anonymous callers; a configuration error is logged, naming the setting.
 */
export function warmUp(): void {
  instanceServices().then(
    ({ config }) => console.info(JSON.stringify({ event: 'configuration', ...describeConfig(config) })),
    (error: unknown) => {
      console.error(
        `obo-graph-api cannot serve requests: ${error instanceof Error ? error.message : String(error)}`,
      );
    },
  );
}
