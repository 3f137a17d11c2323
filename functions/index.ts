/**
 * The bundle's entry (package.json "main" points at its build, dist/main.js): importing each
 * function file registers it with the Functions host.
 */
import './health.js';
import './me.js';
import './tokenCache.js';

export { registeredHttpFunctions } from '../shared/http/registry.js';
