// The API: a Function App on the Flex Consumption plan (FC1), Node 22, running as the user-assigned identity.
// No secret anywhere: storage, Cosmos DB, Key Vault, Application Insights and Entra (OBO, through a federated
// credential) all accept the identity's token, and publishing works only with Entra tokens (basic auth is off).

@description('Name of the Function App.')
param name string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags { *: string }

@description('azd service name in azure.yaml; azd finds the app to deploy to by this tag.')
param serviceName string

@description('Name of the app\'s data-plane identity (storage, Cosmos DB, Key Vault, Application Insights).')
param identityName string

@description('Name of the federation identity: its token is the client assertion of the API\'s federated credential.')
param federationIdentityName string

@description('Name of the storage account for AzureWebJobsStorage and the deployment package.')
param storageAccountName string

@description('Blob container that holds the deployment package.')
param deploymentContainerName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Name of the Cosmos DB account holding the token cache.')
param cosmosAccountName string

@description('Cosmos DB database (COSMOS_DATABASE).')
param cosmosDatabaseName string

@description('Cosmos DB container (COSMOS_CONTAINER).')
param cosmosContainerName string

@description('Name of the Key Vault holding the token cache key ring.')
param keyVaultName string

@description('Name of the Key Vault secret holding the token cache key ring.')
param tokenCacheKeysSecretName string

@description('Client id of the API app registration (API_CLIENT_ID).')
param apiClientId string

@description('App ID URI of the API (API_APP_ID_URI).')
param apiAppIdUri string

@description('Delegated scope callers must hold (API_SCOPE).')
param apiScope string

@description('Client ids of the apps whose tokens may call (API_ALLOWED_CLIENT_APPS), comma-separated, or *.')
param allowedClientApps string

@description('Azure cloud of the tenant (ENTRA_CLOUD).')
@allowed(['AzureCloud', 'AzureUSGovernment', 'AzureChinaCloud'])
param entraCloud string

@description('Microsoft Graph base URL (GRAPH_BASE_URL).')
param graphBaseUrl string

@description('Base URL of the Tasks API (TASKS_API_BASE_URL); empty: its routes are off.')
param tasksApiBaseUrl string = ''

@description('App ID URI of the Tasks API, the prefix of its scopes (TASKS_API_APP_ID_URI).')
param tasksApiAppIdUri string = ''

@description('Microsoft Graph resource URI, the prefix of its scopes (GRAPH_RESOURCE_URI).')
param graphResourceUri string

@description('Client capabilities the API declares to Entra (OBO_CLIENT_CAPABILITIES): cp1 = it handles CAE claims challenges.')
param oboClientCapabilities string

@description('Browser origins of the single-page apps allowed to call the API (CORS). Never "*".')
param spaOrigins string[]

@description('A development environment: http://localhost:<port> origins are allowed in spaOrigins.')
param allowLocalhostCors bool = false

@description('Most instances the app scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@description('Memory of each instance, in MB.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int

@description('Entra authority host without a trailing slash (ENTRA_AUTHORITY_HOST).')
param authorityHost string

@description('Subnet for outbound traffic (private networking); empty for none.')
param appSubnetId string = ''

// Each origin is checked at deployment: a wildcard would let any site call the API with a user's token.
var corsAllowedOrigins = [
  for origin in spaOrigins: contains(origin, '*')
    ? fail('spaOrigins: "${origin}" contains "*"; list each SPA origin, e.g. https://app.contoso.com')
    : startsWith(origin, 'https://') || (allowLocalhostCors && startsWith(origin, 'http://localhost:'))
        ? origin
        : fail('spaOrigins: "${origin}" must start with https:// (http://localhost: only with allowLocalhostCors, for a development environment)')
]

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' existing = {
  name: identityName
}

resource federationIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' existing = {
  name: federationIdentityName
}

resource storage 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2025-04-15' existing = {
  name: cosmosAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' existing = {
  name: keyVaultName
}

resource plan 'Microsoft.Web/serverfarms@2024-11-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-11-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
      '${federationIdentity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references (TOKEN_CACHE_KEYS) resolve as the user-assigned identity, not a system-assigned one.
    keyVaultReferenceIdentity: identity.id
    // With private networking, all outbound traffic (storage, Cosmos DB, Key Vault references) goes through the subnet.
    virtualNetworkSubnetId: empty(appSubnetId) ? null : appSubnetId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      // Node.js 22 LTS runs the esbuild bundle (package.json main: dist/main.js).
      runtime: {
        name: 'node'
        version: '22'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      // No ftpsState: Flex Consumption has no FTP and newer regions reject the property (FTP is also
      // refused by the basicPublishingCredentialsPolicies below).
      http20Enabled: true
      cors: {
        allowedOrigins: corsAllowedOrigins
        // Callers send bearer tokens, never cookies.
        supportCredentials: false
      }
      appSettings: [
        { name: 'ENTRA_CLOUD', value: entraCloud }
        { name: 'ENTRA_AUTHORITY_HOST', value: authorityHost }
        { name: 'ENTRA_TENANT_ID', value: tenant().tenantId }
        { name: 'API_CLIENT_ID', value: apiClientId }
        { name: 'API_APP_ID_URI', value: apiAppIdUri }
        { name: 'API_SCOPE', value: apiScope }
        { name: 'API_ALLOWED_CLIENT_APPS', value: allowedClientApps }
        // The app proves itself to Entra with a token of the federation identity (federated credential), no secret.
        { name: 'OBO_CLIENT_CREDENTIAL', value: 'managed-identity' }
        { name: 'OBO_FEDERATION_IDENTITY_CLIENT_ID', value: federationIdentity.properties.clientId }
        { name: 'MANAGED_IDENTITY_CLIENT_ID', value: identity.properties.clientId }
        { name: 'GRAPH_BASE_URL', value: graphBaseUrl }
        // Empty values leave the Tasks API off (the app reads an empty setting as unset).
        { name: 'TASKS_API_BASE_URL', value: tasksApiBaseUrl }
        { name: 'TASKS_API_APP_ID_URI', value: tasksApiAppIdUri }
        { name: 'GRAPH_RESOURCE_URI', value: graphResourceUri }
        { name: 'OBO_CLIENT_CAPABILITIES', value: oboClientCapabilities }
        // The platform CORS list as an app setting too: `npm run serve` with these settings behaves as Azure does.
        { name: 'CORS_ALLOWED_ORIGINS', value: join(corsAllowedOrigins, ',') }
        { name: 'COSMOS_ENDPOINT', value: cosmos.properties.documentEndpoint }
        { name: 'COSMOS_DATABASE', value: cosmosDatabaseName }
        { name: 'COSMOS_CONTAINER', value: cosmosContainerName }
        // Versionless, so a new secret version (a rotated ring) is picked up without changing this setting.
        {
          name: 'TOKEN_CACHE_KEYS'
          value: '@Microsoft.KeyVault(SecretUri=${vault.properties.vaultUri}secrets/${tokenCacheKeysSecretName})'
        }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: applicationInsights.properties.ConnectionString }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'Authorization=AAD;ClientId=${identity.properties.clientId}'
        }
        // Blob only: these functions are HTTP-triggered, so the host needs no queue or table endpoint.
        { name: 'AzureWebJobsStorage__blobServiceUri', value: storage.properties.primaryEndpoints.blob }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identity.properties.clientId }
      ]
    }
  }
}

// Publishing with FTP or SCM user names and passwords is off; azd deploys with an Entra token.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-11-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-11-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

@description('Name of the Function App.')
output name string = site.name

@description('HTTPS base URL of the Function App.')
output uri string = 'https://${site.properties.defaultHostName}'
