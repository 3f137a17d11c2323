import { DOWNSTREAM_OPERATIONS } from '../shared/downstream/operations.js';
import { operationHandler } from '../shared/http/operationRoute.js';
import { registerHttpFunction } from '../shared/http/registry.js';
import type { ServicesProvider } from '../shared/runtime.js';
import { instanceServices } from './instance.js';

/** GET /api/me: the caller's Microsoft Graph profile, fetched on the caller's behalf. */
export function createGetMe(services: ServicesProvider) {
  return operationHandler(services, DOWNSTREAM_OPERATIONS.myProfile);
}

export const getMe = createGetMe(instanceServices);

registerHttpFunction('getMe', { route: 'me', methods: ['GET'], authLevel: 'anonymous', handler: getMe });
