// A user-assigned identity of the app: main.bicep makes two, the data plane's (every data-plane role) and the
// federation identity (only the API registration's federated credential trusts it).
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

@description('Client (application) id of the identity: MANAGED_IDENTITY_CLIENT_ID or OBO_FEDERATION_IDENTITY_CLIENT_ID of the app.')
output clientId string = identity.properties.clientId

@description('Object (principal) id of the identity: a role assignment\'s principal, or the federated credential\'s subject.')
output principalId string = identity.properties.principalId
