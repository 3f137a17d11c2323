import { ConfigError } from '../errors.js';

/** Where spans and metrics go. */
export type TelemetryExport = 'none' | 'console' | 'file' | 'azure-monitor';

export interface TelemetrySettings {
  export: TelemetryExport;
  /** JSON lines, for `file`. */
  file: string;
  /** For `azure-monitor`: Application Insights' connection string (its instrumentation key is no secret, but not shown). */
  connectionString: string | undefined;
  /** For `azure-monitor`: send with an Entra token of this managed identity (undefined: the system-assigned one). */
  entraAuthentication: { managedIdentityClientId: string | undefined } | undefined;
  /** How often metrics are exported. */
  metricIntervalMs: number;
}

export const DEFAULT_TELEMETRY_FILE = '.sandbox/telemetry.jsonl';

const EXPORTS: readonly TelemetryExport[] = ['none', 'console', 'file', 'azure-monitor'];
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Read apart from the app's configuration (shared/config.ts) on purpose: telemetry starts before it, so a
 * misconfigured app still exports the error that names its bad setting.
 */
export function readTelemetrySettings(env: Readonly<Record<string, string | undefined>>): TelemetrySettings {
  const value = (name: string): string | undefined => {
    const raw = env[name]?.trim();
    return raw === undefined || raw === '' ? undefined : raw;
  };
  const connectionString = value('APPLICATIONINSIGHTS_CONNECTION_STRING');
  const requested = value('TELEMETRY_EXPORT');
  const exportTo = EXPORTS.find((e) => e === requested);
  if (requested !== undefined && exportTo === undefined) {
    throw new ConfigError('TELEMETRY_EXPORT', `must be one of ${EXPORTS.join(', ')}`);
  }
  const chosen = exportTo ?? (connectionString === undefined ? 'none' : 'azure-monitor');
  if (chosen === 'azure-monitor' && connectionString === undefined) {
    throw new ConfigError(
      'APPLICATIONINSIGHTS_CONNECTION_STRING',
      'is required when TELEMETRY_EXPORT is azure-monitor (the Application Insights connection string)',
    );
  }
  if (connectionString !== undefined && !/(^|;)\s*InstrumentationKey=/i.test(connectionString)) {
    throw new ConfigError(
      'APPLICATIONINSIGHTS_CONNECTION_STRING',
      'must be an Application Insights connection string (InstrumentationKey=...;IngestionEndpoint=...)',
    );
  }
  const interval = value('TELEMETRY_METRIC_INTERVAL_SECONDS');
  const intervalSeconds = interval === undefined ? 60 : Number(interval);
  if (!/^\d+$/.test(interval ?? '60') || intervalSeconds < 1 || intervalSeconds > 3600) {
    throw new ConfigError('TELEMETRY_METRIC_INTERVAL_SECONDS', 'must be a whole number from 1 to 3600');
  }
  return {
    export: chosen,
    file: value('TELEMETRY_FILE') ?? DEFAULT_TELEMETRY_FILE,
    connectionString,
    entraAuthentication: parseAuthenticationString(value('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')),
    metricIntervalMs: intervalSeconds * 1000,
  };
}

/** `Authorization=AAD[;ClientId=<guid>]`, as the Functions host reads it too. */
function parseAuthenticationString(value: string | undefined): TelemetrySettings['entraAuthentication'] {
  if (value === undefined) return undefined;
  const parts = new Map<string, string>();
  for (const part of value.split(';')) {
    if (part.trim() === '') continue;
    const [name, setting, ...rest] = part.split('=');
    if (name === undefined || setting === undefined || rest.length > 0) return invalidAuthenticationString();
    parts.set(name.trim().toLowerCase(), setting.trim());
  }
  const clientId = parts.get('clientid');
  if (
    parts.get('authorization')?.toUpperCase() !== 'AAD' ||
    (clientId !== undefined && !GUID.test(clientId))
  ) {
    return invalidAuthenticationString();
  }
  return { managedIdentityClientId: clientId?.toLowerCase() };
}

function invalidAuthenticationString(): never {
  throw new ConfigError(
    'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
    'must be Authorization=AAD or Authorization=AAD;ClientId=<client id of the managed identity>',
  );
}
