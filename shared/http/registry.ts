import { createRequire } from 'node:module';

import type { HttpHandler, HttpMethod } from '@azure/functions';

import { app } from './azureFunctions.js';

export interface HttpFunctionDefinition {
  route: string;
  methods: HttpMethod[];
  authLevel: 'anonymous' | 'function' | 'admin';
  handler: HttpHandler;
}

/**
 * Registers an HTTP function with the Functions host: the Azure worker, or dev/host/functionsHost.ts, which serves
 * '@azure/functions-core' the same way and collects what `app.http` registers.
 */
export function registerHttpFunction(name: string, definition: HttpFunctionDefinition): void {
  // Outside a host (tests import the handlers) @azure/functions would only warn that it cannot register.
  if (insideFunctionsHost()) app.http(name, definition);
}

/**
 * The Node.js worker serves '@azure/functions-core' by hooking Module.prototype.require, the same way
 * @azure/functions finds it. (An app setting such as FUNCTIONS_WORKER_RUNTIME is not set on every plan.)
 */
function insideFunctionsHost(): boolean {
  try {
    createRequire(import.meta.url)('@azure/functions-core');
    return true;
  } catch {
    return false;
  }
}
