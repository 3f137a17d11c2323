/**
 * The bundle's entry (package.json "main" points at its build, dist/main.js): importing each
 * function file registers it with the Functions host.
 */
import './health.js';
import './me.js';
import './meEvents.js';
import './tokenCache.js';

import { warmUp } from './instance.js';

// Validates the configuration when the instance starts (a bad setting is logged by name at once)
// and builds the clients before the first request needs them.
warmUp();
