// The Functions host's storage (AzureWebJobsStorage) and the Flex Consumption deployment package container.
// Keys are off: the host and the deployment both authenticate as the app's user-assigned identity.

@description('Name of the storage account (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags { *: string }

@description('Blob container that holds the app package Flex Consumption runs from.')
param deploymentContainerName string

@description('Whether the public internet may reach the data plane; false with private networking (private endpoint only).')
param publicNetworkAccess bool = true

@description('Name of the app\'s user-assigned identity, granted Storage Blob Data Owner on this account.')
param identityName string

@description('Redundancy of the account.')
@allowed(['Standard_LRS', 'Standard_ZRS'])
param skuName string = 'Standard_LRS'

// Storage Blob Data Owner: what the Functions host needs for identity-based AzureWebJobsStorage (it creates its own
// containers for host locks and function keys) and what Flex Consumption needs to read the deployment package.
var storageBlobDataOwnerRoleId = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' existing = {
  name: identityName
}

resource storage 'Microsoft.Storage/storageAccounts@2025-01-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    // Local users (SFTP, NFS) authenticate with keys or passwords of their own: none exist here.
    isLocalUserEnabled: false
    isSftpEnabled: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
    networkAcls: {
      defaultAction: publicNetworkAccess ? 'Allow' : 'Deny'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2025-01-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-01-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

// Why: AzureWebJobsStorage__credential=managedidentity and the deployment container's UserAssignedIdentity auth.
// Blob only: the app has HTTP triggers alone, so no queue role (blob/queue triggers, Durable) and no table role
// (Durable) is granted. Scoped to this account, which holds nothing but the host's and the package's blobs.
resource blobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, storageBlobDataOwnerRoleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwnerRoleId)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

@description('Name of the storage account.')
output name string = storage.name

@description('Blob endpoint of the account, ending with a slash.')
output blobEndpoint string = storage.properties.primaryEndpoints.blob

@description('Name of the deployment package container.')
output deploymentContainerName string = deploymentContainer.name
