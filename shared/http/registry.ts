import { createRequire } from 'node:module';

import type { HttpHandler, HttpMethod } from '@azure/functions';

import { app } from './azureFunctions.js';

export interface HttpFunctionDefinition {
  route: string;
  methods: HttpMethod[];
  authLevel: 'anonymous' | 'function' | 'admin';
  handler: HttpHandler;
}

const definitions = new Map<string, HttpFunctionDefinition>();

/**
 * Registers an HTTP function with the Functions host, and records it so the local host (dev/host.ts)
 * serves the same routes with the same handlers when no Functions host is running.
 */
export function registerHttpFunction(name: string, definition: HttpFunctionDefinition): void {
  definitions.set(name, definition);
  // Outside the Functions worker @azure/functions only warns that it cannot register.
  if (insideFunctionsWorker()) app.http(name, definition);
}

let workerDetected: boolean | undefined;

/**
 * The Node.js worker serves '@azure/functions-core' by hooking Module.prototype.require, the same way
 * @azure/functions finds it. (An app setting such as FUNCTIONS_WORKER_RUNTIME is not set on every plan.)
 */
function insideFunctionsWorker(): boolean {
  if (workerDetected === undefined) {
    try {
      createRequire(import.meta.url)('@azure/functions-core');
      workerDetected = true;
    } catch {
      workerDetected = false;
    }
  }
  return workerDetected;
}

export function registeredHttpFunctions(): ReadonlyMap<string, HttpFunctionDefinition> {
  return definitions;
}
