// The app's one identity: Entra trusts it (federated credential) and every data plane grants it a role.
// User-assigned rather than system-assigned so it exists before the Function App and outlives a re-creation of it.

@description('Name of the user-assigned managed identity.')
param name string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags { *: string }

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: name
  location: location
  tags: tags
}

@description('Resource id of the identity.')
output id string = identity.id

@description('Client (application) id of the identity: MANAGED_IDENTITY_CLIENT_ID and AZURE_CLIENT_ID for the app.')
output clientId string = identity.properties.clientId

@description('Object (principal) id of the identity: the subject of the API app registration\'s federated credential.')
output principalId string = identity.properties.principalId
