/**
 * The composition root: this Functions instance's one piece of state, its services, built once from
 * the app settings. Each function file hands it to its handler's factory; tests give factories fakes.
 */
import { loadConfig } from '../shared/config.js';
import { createServices, lazyServices } from '../shared/runtime.js';

export const instanceServices = lazyServices(() => createServices(loadConfig(process.env)));

/** Starts building the services at load time; a configuration error is logged, naming the setting. */
export function warmUp(): void {
  instanceServices().catch((error: unknown) => {
    console.error(
      `obo-graph-api cannot serve requests: ${error instanceof Error ? error.message : String(error)}`,
    );
  });
}
