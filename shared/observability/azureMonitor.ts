/**
 * Azure Monitor, the way Azure Functions supports OpenTelemetry for Node (host.json "telemetryMode":
 * "OpenTelemetry"): Azure Monitor's exporters, authenticated with an Entra token of the managed identity,
 * and the Functions instrumentation, which tells the host that this worker sends its own logs and forwards
 * every context.log line as an OpenTelemetry log record. Imported only when a connection string is set.
 */
import type AzureFunctions from '@azure/functions';
import functionsInstrumentation from '@azure/functions-opentelemetry-instrumentation';
import { ManagedIdentityCredential } from '@azure/identity';
import {
  AzureMonitorLogExporter,
  AzureMonitorMetricExporter,
  AzureMonitorTraceExporter,
} from '@azure/monitor-opentelemetry-exporter';
import { context as otelContext } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

import type { Observability } from './observability.js';
import { createObservability } from './pipeline.js';
import type { TelemetrySettings } from './settings.js';

// A webpack CommonJS bundle whose named exports Node's ES module loader cannot detect (as @azure/functions).
const { AzureFunctionsInstrumentationESM } = functionsInstrumentation;

export interface AzureMonitorTarget {
  settings: TelemetrySettings & { connectionString: string };
  /** @azure/functions as loaded by the app: instrumented only inside the Functions worker. */
  azureFunctions: typeof AzureFunctions | undefined;
  /** Resource attributes that identify this instance (role instance in Application Insights). */
  resource: Record<string, string>;
}

export function startAzureMonitor(target: AzureMonitorTarget): Observability {
  const { settings } = target;
  const auth = settings.entraAuthentication;
  const exporterOptions = {
    connectionString: settings.connectionString,
    // Local authentication is off on the component: ingestion takes the managed identity's Entra token.
    ...(auth === undefined
      ? {}
      : {
          credential:
            auth.managedIdentityClientId === undefined
              ? new ManagedIdentityCredential()
              : new ManagedIdentityCredential({ clientId: auth.managedIdentityClientId }),
        }),
  };

  // Lets the log records the instrumentation emits inside a request carry that request's span.
  otelContext.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

  const observability = createObservability({
    spanProcessors: [new BatchSpanProcessor(new AzureMonitorTraceExporter(exporterOptions))],
    metricReaders: [
      new PeriodicExportingMetricReader({
        exporter: new AzureMonitorMetricExporter(exporterOptions),
        exportIntervalMillis: settings.metricIntervalMs,
      }),
    ],
    resource: target.resource,
  });

  if (target.azureFunctions !== undefined) {
    const loggerProvider = new LoggerProvider({
      processors: [new BatchLogRecordProcessor({ exporter: new AzureMonitorLogExporter(exporterOptions) })],
    });
    // Not enabled through module hooks (an ES module bundle has none): patched directly, as its ESM variant allows.
    const instrumentation = new AzureFunctionsInstrumentationESM({ enabled: false });
    instrumentation.setLoggerProvider(loggerProvider);
    instrumentation.registerAzFunc(target.azureFunctions);
    return {
      ...observability,
      async flush() {
        await Promise.all([observability.flush(), loggerProvider.forceFlush()]);
      },
      async shutdown() {
        await Promise.all([observability.shutdown(), loggerProvider.shutdown()]);
      },
    };
  }
  return observability;
}
