// Cosmos DB for NoSQL holding the MSAL token cache: one document per caller, read and written by point operations.
// Key auth is off: the app's data-plane identity is the only data-plane principal, through a custom role that allows
// only the operations the app makes. Data-plane and control-plane requests are logged to Log Analytics.

@description('Name of the Cosmos DB account.')
param accountName string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags { *: string }

@description('Database name (COSMOS_DATABASE).')
param databaseName string

@description('Container name (COSMOS_CONTAINER).')
param containerName string

@description('serverless: pay per request (default); provisioned: fixed RU/s on the container; autoscale: RU/s between 10% and the maximum.')
@allowed(['serverless', 'provisioned', 'autoscale'])
param capacityMode string = 'serverless'

@description('RU/s of the container when capacityMode is provisioned.')
@minValue(400)
param provisionedThroughput int = 400

@description('Maximum RU/s of the container when capacityMode is autoscale.')
@minValue(1000)
param autoscaleMaxThroughput int = 1000

@description('Whether the public internet may reach the data plane; false with private networking (private endpoint only).')
param publicNetworkAccess bool = true

@description('Name of the app\'s data-plane identity, granted the token cache role on the container.')
param identityName string

@description('Name of the Log Analytics workspace that receives the account\'s request logs.')
param logAnalyticsName string

// What shared/cache/cosmosStore.ts does, and nothing else: the SDK's account and container metadata reads, a point
// read, create, replace with If-Match, and upsert (the erase's tombstone). No query, change feed, delete or patch.
var tokenCacheDataActions = [
  'Microsoft.DocumentDB/databaseAccounts/readMetadata'
  'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/read'
  'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/create'
  'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/replace'
  'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/upsert'
]

var throughputOptions = {
  serverless: {}
  provisioned: { throughput: provisionedThroughput }
  autoscale: { autoscaleSettings: { maxThroughput: autoscaleMaxThroughput } }
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' existing = {
  name: identityName
}

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2025-02-01' existing = {
  name: logAnalyticsName
}

resource account 'Microsoft.DocumentDB/databaseAccounts@2025-04-15' = {
  name: accountName
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    capabilities: capacityMode == 'serverless' ? [{ name: 'EnableServerless' }] : []
    disableLocalAuth: true
    // Databases and containers change only through Resource Manager (this template), never through a data-plane token.
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2025-04-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
  }
}

resource container 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2025-04-15' = {
  parent: database
  name: containerName
  properties: {
    resource: {
      id: containerName
      partitionKey: {
        paths: ['/id']
        kind: 'Hash'
        version: 2
      }
      // -1: TTL on with no default expiry; each document sets its own `ttl`, then Cosmos DB deletes it.
      defaultTtl: -1
      // The app only reads by id and partition key and never queries: index nothing, so writes cost fewer RUs.
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: []
        excludedPaths: [
          {
            path: '/*'
          }
        ]
      }
    }
    options: throughputOptions[capacityMode]
  }
}

var containerScope = '${account.id}/dbs/${database.name}/colls/${container.name}'

// A data-plane role of the account (Microsoft.DocumentDB/databaseAccounts/sqlRoleDefinitions), not an Azure RBAC
// role; assignable to the token cache container only.
resource tokenCacheRole 'Microsoft.DocumentDB/databaseAccounts/sqlRoleDefinitions@2025-04-15' = {
  parent: account
  name: guid(account.id, 'token-cache-data-role')
  properties: {
    roleName: 'Token cache reader and writer'
    type: 'CustomRole'
    assignableScopes: [containerScope]
    permissions: [
      {
        dataActions: tokenCacheDataActions
      }
    ]
  }
}

// Why: the app reads and writes cache documents as its data-plane identity (key auth is off).
// Scoped to the token cache container alone (data-plane scope /dbs/<database>/colls/<container>).
resource tokenCacheRoleAssignment 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2025-04-15' = {
  parent: account
  name: guid(container.id, identity.id, tokenCacheRole.id)
  properties: {
    roleDefinitionId: tokenCacheRole.id
    principalId: identity.properties.principalId
    scope: containerScope
  }
}

// Who read or wrote which document, and every change to the account, in resource-specific tables.
resource accountDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'requests-to-log-analytics'
  scope: account
  properties: {
    workspaceId: logAnalytics.id
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      { category: 'DataPlaneRequests', enabled: true }
      { category: 'ControlPlaneRequests', enabled: true }
    ]
  }
}

@description('Name of the Cosmos DB account.')
output accountName string = account.name

@description('Document endpoint of the account (COSMOS_ENDPOINT).')
output endpoint string = account.properties.documentEndpoint
