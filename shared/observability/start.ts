import type AzureFunctions from '@azure/functions';

import { noObservability, type Observability } from './observability.js';
import type { TelemetrySettings } from './settings.js';

export interface StartOptions {
  /** @azure/functions as the app loaded it, when running inside the Functions worker. */
  azureFunctions?: typeof AzureFunctions | undefined;
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * The instance's telemetry as the settings ask: nothing, JSON lines on the console or in a file (local), or
 * Azure Monitor. The SDK and the exporters are imported only when asked for (docs/observability.md, cost at start).
 */
export async function startObservability(
  settings: TelemetrySettings,
  options: StartOptions = {},
): Promise<Observability> {
  switch (settings.export) {
    case 'none':
      return noObservability();
    case 'console':
    case 'file': {
      const { startJsonLines } = await import('./jsonLines.js');
      return startJsonLines(settings);
    }
    case 'azure-monitor': {
      const { connectionString } = settings;
      if (connectionString === undefined) return noObservability();
      const { startAzureMonitor } = await import('./azureMonitor.js');
      const env = options.env ?? process.env;
      return startAzureMonitor({
        settings: { ...settings, connectionString },
        azureFunctions: options.azureFunctions,
        resource: {
          ...(env.WEBSITE_SITE_NAME === undefined ? {} : { 'service.name': env.WEBSITE_SITE_NAME }),
          ...(env.WEBSITE_INSTANCE_ID === undefined
            ? {}
            : { 'service.instance.id': env.WEBSITE_INSTANCE_ID }),
        },
      });
    }
  }
}
