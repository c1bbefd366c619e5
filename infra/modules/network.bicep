// Private networking for the function's storage, the layout of the Azure Functions Flex
// Consumption azd quickstarts (Azure-Samples/functions-quickstart-typescript-azd, infra/app/
// vnet.bicep and storage-PrivateEndpoint.bicep): one virtual network with a subnet the function
// app integrates with and one for private endpoints; a private endpoint for each storage service
// the app uses, each with its private DNS zone linked to the network, so the app resolves the
// account's usual host names to private addresses. The storage account then turns public network
// access off (storage.bicep).
//
// Storage services: blob (host storage, timer leases, the deployment package), table (the state
// table, the host's diagnostic events) and queue (the fan-out's detection queue and its poison
// queue, storage.bicep). Log Analytics, the Logic App trigger, Application Insights and Entra
// ID stay public endpoints, reached outbound.

@description('Name of the virtual network.')
param name string

@description('Azure region: the function app\'s, as its integration subnet must be.')
param location string

@description('Tags applied to the network, endpoints and zones.')
param tags object

@description('Name of the storage account (same resource group) the private endpoints lead to.')
param storageAccountName string

// Address plan of the quickstarts. Flex Consumption integration needs a subnet delegated to
// Microsoft.App/environments (learn.microsoft.com/azure/azure-functions/flex-consumption-plan,
// "Virtual network integration"; the quickstarts' vnet.bicep); /24 leaves room for its scale-out.
var addressSpace = '10.0.0.0/16'
var privateEndpointSubnetName = 'private-endpoints'
var appSubnetName = 'app'

// One private endpoint per service, groupIds blob/table/queue, and its zone
// privatelink.<service>.<storage suffix> (learn.microsoft.com/azure/private-link/
// private-endpoint-dns, "Storage"); environment() keeps sovereign clouds right.
var storageServices = [
  'blob'
  'table'
  'queue'
]

resource storage 'Microsoft.Storage/storageAccounts@2025-06-01' existing = {
  name: storageAccountName
}

// Microsoft.Network/virtualNetworks and privateEndpoints (REST spec specification/network/
// resource-manager/Microsoft.Network/stable/2025-05-01, in the Bicep type index): subnets inline, so a redeploy does not
// drop them; privateEndpointNetworkPolicies 'Disabled' as the quickstarts set it.
resource vnet 'Microsoft.Network/virtualNetworks@2025-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressSpace
      ]
    }
    subnets: [
      {
        name: privateEndpointSubnetName
        properties: {
          addressPrefix: '10.0.1.0/24'
          privateEndpointNetworkPolicies: 'Disabled'
          privateLinkServiceNetworkPolicies: 'Enabled'
        }
      }
      {
        name: appSubnetName
        properties: {
          addressPrefix: '10.0.2.0/24'
          privateEndpointNetworkPolicies: 'Disabled'
          privateLinkServiceNetworkPolicies: 'Enabled'
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
    ]
  }
}

// Microsoft.Network/privateDnsZones and virtualNetworkLinks (REST spec specification/privatedns/
// resource-manager/Microsoft.Network/stable/2024-06-01): global resources; no auto-registration.
resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for service in storageServices: {
    name: 'privatelink.${service}.${environment().suffixes.storage}'
    location: 'global'
    tags: tags
  }
]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for (service, i) in storageServices: {
    parent: zones[i]
    name: '${name}-link'
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: vnet.id
      }
    }
  }
]

resource endpoints 'Microsoft.Network/privateEndpoints@2025-05-01' = [
  for service in storageServices: {
    name: 'pe-${service}-${storageAccountName}'
    location: location
    tags: tags
    properties: {
      subnet: {
        id: resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, privateEndpointSubnetName)
      }
      privateLinkServiceConnections: [
        {
          name: service
          properties: {
            privateLinkServiceId: storage.id
            groupIds: [
              service
            ]
          }
        }
      ]
    }
  }
]

// The A record of each endpoint, written into its zone and kept there by the platform.
resource zoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2025-05-01' = [
  for (service, i) in storageServices: {
    parent: endpoints[i]
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        {
          name: service
          properties: {
            privateDnsZoneId: zones[i].id
          }
        }
      ]
    }
  }
]

output appSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, appSubnetName)
output name string = vnet.name
