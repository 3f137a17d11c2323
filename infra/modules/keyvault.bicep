// Key Vault holding the token cache encryption key ring (TOKEN_CACHE_KEYS). RBAC only (no access policies);
// the app's identity is the only principal granted a data-plane role. Resource Manager writes the secret from a
// secure parameter, so whoever deploys needs no data-plane role either. Every access is audited in Log Analytics.

@description('Name of the Key Vault (3-24 letters, digits and hyphens).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags { *: string }

@description('Whether the public internet may reach the data plane; false with private networking (private endpoint only).')
param publicNetworkAccess bool = true

@description('Name of the app\'s user-assigned identity, granted Key Vault Secrets User on this vault.')
param identityName string

@description('Name of the Log Analytics workspace that receives the vault\'s audit log.')
param logAnalyticsName string

@description('Name of the secret that holds the key ring.')
param tokenCacheKeysSecretName string

@description('The key ring, "kid:base64key[,kid:base64key...]" with the current key first. Empty leaves the secret as it is.')
@secure()
param tokenCacheKeys string = ''

@description('Days a deleted vault or secret stays recoverable.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 90

// Key Vault Secrets User: read secret values, nothing else (no list of keys or certificates, no writes).
var keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' existing = {
  name: identityName
}

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2025-02-01' existing = {
  name: logAnalyticsName
}

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    // Nobody, not even a subscription owner, can purge the key ring before the retention ends.
    enablePurgeProtection: true
    publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
    networkAcls: {
      defaultAction: publicNetworkAccess ? 'Allow' : 'Deny'
      bypass: 'AzureServices'
    }
  }
}

// Written only when a value is given, so a provision without TOKEN_CACHE_KEYS never replaces a rotated ring.
resource tokenCacheKeysSecret 'Microsoft.KeyVault/vaults/secrets@2024-11-01' = if (!empty(tokenCacheKeys)) {
  parent: vault
  name: tokenCacheKeysSecretName
  properties: {
    value: tokenCacheKeys
    contentType: 'text/plain; kid:base64key[,kid:base64key...], current key first'
  }
}

// The secret as a scope: it exists from this or an earlier provision (the preprovision hook makes sure a ring exists).
resource tokenCacheKeysScope 'Microsoft.KeyVault/vaults/secrets@2024-11-01' existing = {
  parent: vault
  name: tokenCacheKeysSecretName
}

// Why: the platform resolves the TOKEN_CACHE_KEYS Key Vault reference as the app's identity
// (keyVaultReferenceIdentity). Scoped to that one secret, not the vault.
resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(tokenCacheKeysScope.id, identity.id, keyVaultSecretsUserRoleId)
  scope: tokenCacheKeysScope
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRoleId)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
  // The secret is declared conditionally above; when it is written in this deployment, it must exist first.
  dependsOn: [tokenCacheKeysSecret]
}

// Who read the key ring (or tried to), and every change to the vault.
resource vaultDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalytics.id
    logs: [
      { category: 'AuditEvent', enabled: true }
    ]
  }
}

@description('Name of the vault.')
output name string = vault.name

@description('URI of the vault, ending with a slash.')
output uri string = vault.properties.vaultUri
