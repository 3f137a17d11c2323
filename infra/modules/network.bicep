// Optional private networking (main.bicep vnetEnabled): a virtual network whose "app" subnet carries the Function
// App's outbound traffic, and private endpoints with private DNS zones for blob storage, Cosmos DB and Key Vault, so
// those services can refuse the public internet. Application Insights ingestion stays public (Entra-authenticated).

@description('Name of the virtual network.')
param name string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags { *: string }

@description('Name of the storage account to reach through a private endpoint (blob).')
param storageAccountName string

@description('Name of the Cosmos DB account to reach through a private endpoint (Sql).')
param cosmosAccountName string

@description('Name of the Key Vault to reach through a private endpoint.')
param keyVaultName string

resource network 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: ['10.0.0.0/16']
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: '10.0.1.0/24'
          // Flex Consumption integrates with a subnet delegated to Microsoft.App/environments.
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: '10.0.2.0/24'
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }

  resource appSubnet 'subnets' existing = {
    name: 'app'
  }

  resource privateEndpointSubnet 'subnets' existing = {
    name: 'private-endpoints'
  }
}

// One private endpoint per service: the resource, its sub-resource (group) and the private DNS zone of that group.
var endpoints = [
  {
    name: 'blob'
    type: 'Microsoft.Storage/storageAccounts'
    resourceName: storageAccountName
    groupId: 'blob'
    zone: 'privatelink.blob.${environment().suffixes.storage}'
  }
  {
    name: 'cosmos'
    type: 'Microsoft.DocumentDB/databaseAccounts'
    resourceName: cosmosAccountName
    groupId: 'Sql'
    zone: 'privatelink.documents.azure.com'
  }
  {
    name: 'vault'
    type: 'Microsoft.KeyVault/vaults'
    resourceName: keyVaultName
    groupId: 'vault'
    zone: 'privatelink${environment().suffixes.keyvaultDns}'
  }
]

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for endpoint in endpoints: {
    name: endpoint.zone
    location: 'global'
    tags: tags
  }
]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for (endpoint, index) in endpoints: {
    parent: zones[index]
    name: '${name}-link'
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: network.id
      }
    }
  }
]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [
  for endpoint in endpoints: {
    name: 'pe-${endpoint.name}-${name}'
    location: location
    tags: tags
    properties: {
      subnet: {
        id: network::privateEndpointSubnet.id
      }
      privateLinkServiceConnections: [
        {
          name: endpoint.name
          properties: {
            privateLinkServiceId: resourceId(endpoint.type, endpoint.resourceName)
            groupIds: [endpoint.groupId]
          }
        }
      ]
    }
  }
]

resource zoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [
  for (endpoint, index) in endpoints: {
    parent: privateEndpoints[index]
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        {
          name: endpoint.name
          properties: {
            privateDnsZoneId: zones[index].id
          }
        }
      ]
    }
  }
]

@description('Resource id of the subnet the Function App integrates with.')
output appSubnetId string = network::appSubnet.id
