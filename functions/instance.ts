/**
 * The composition root: this Functions instance's one piece of state, its services, built once from
 * the app settings. Each function file hands it to its handler's factory; tests give factories fakes.
 */
import { describeConfig, loadConfig } from '../shared/config.js';
import { createServices, lazyServices } from '../shared/runtime.js';

export const instanceServices = lazyServices(() => createServices(loadConfig(process.env)));

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
