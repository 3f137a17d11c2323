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
  if (process.env.FUNCTIONS_WORKER_RUNTIME !== undefined) app.http(name, definition);
}

export function registeredHttpFunctions(): ReadonlyMap<string, HttpFunctionDefinition> {
  return definitions;
}
