import { isRecord } from '../../../shared/narrow.js';

/** What the SPA needs to know, served as config.json: from the sandbox locally, from azd's outputs in Azure. */
export interface SpaConfig {
  /** The SPA's app registration (a public client). */
  clientId: string;
  /** https://<Entra host>/<tenant id> */
  authority: string;
  /** The API's base URL, ending in /api. */
  apiBaseUrl: string;
  /** The API's delegated scope: api://<API client id>/access_as_user. */
  apiScope: string;
}

export function parseSpaConfig(value: unknown): SpaConfig {
  const fields = ['clientId', 'authority', 'apiBaseUrl', 'apiScope'] as const;
  if (!isRecord(value)) throw new Error('config.json is not a JSON object');
  for (const field of fields) {
    if (typeof value[field] !== 'string' || value[field] === '')
      throw new Error(`config.json: "${field}" is missing`);
  }
  return value as unknown as SpaConfig;
}
