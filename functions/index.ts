/**
 * The bundle's entry (package.json "main" points at its build, dist/main.js): importing each
 * function file registers it with the Functions host.
 */
import './createMyEvent.js';
import './createTask.js';
import './deleteTask.js';
import './getTask.js';
import './health.js';
import './listTasks.js';
import './me.js';
import './meEvents.js';
import './tokenCache.js';
import './updateTask.js';

import { instanceObservability, warmUp } from './instance.js';

// The worker asks for its capabilities once this module has loaded; by then the Functions OpenTelemetry
// instrumentation must have said that this worker exports its own logs. Without a connection string this is
// immediate: Azure Monitor's exporter is imported only when one is set.
await instanceObservability;

// Validates the configuration when the instance starts (a bad setting is logged by name at once)
// and builds the clients before the first request needs them.
warmUp();
