// Log search alerts on the app's OpenTelemetry metrics (customMetrics in Application Insights; the metric
// names are those of shared/observability/names.ts). Without action groups an alert still fires and shows in
// the portal's Alerts view; pass action group ids to be notified.

@description('Name of the Application Insights component the app sends its metrics to.')
param applicationInsightsName string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags { *: string }

@description('Resource ids of action groups to notify when an alert fires (none: the portal only).')
param actionGroupIds string[] = []

@description('Degraded token cache operations (Cosmos DB failing or skipped) in 15 minutes that raise an alert.')
@minValue(1)
param degradedOperationsThreshold int = 20

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// A lost write means instances disagree about a caller's tokens until they expire: each one is worth a look.
resource lostWrites 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${applicationInsightsName}-token-cache-lost-writes'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Token cache writes lost'
    description: 'obo.cache.lost_writes > 0: cache writes gave up after the conflict retries (TOKEN_CACHE_WRITE_RETRIES).'
    severity: 2
    enabled: true
    scopes: [applicationInsights.id]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "obo.cache.lost_writes" | summarize lostWrites = sum(valueSum)'
          timeAggregation: 'Total'
          metricMeasureColumn: 'lostWrites'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: actionGroupIds
    }
  }
}

// Degraded operations go on without Cosmos DB: requests still answer, but every miss costs an Entra exchange.
resource degradedCache 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${applicationInsightsName}-token-cache-degraded'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Token cache degraded'
    description: 'obo.cache.degraded_operations above the threshold: Cosmos DB is failing or being skipped by the breaker.'
    severity: 2
    enabled: true
    scopes: [applicationInsights.id]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "obo.cache.degraded_operations" | summarize degraded = sum(valueSum)'
          timeAggregation: 'Total'
          metricMeasureColumn: 'degraded'
          operator: 'GreaterThanOrEqual'
          threshold: degradedOperationsThreshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: actionGroupIds
    }
  }
}
