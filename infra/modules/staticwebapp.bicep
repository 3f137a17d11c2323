// The sample single-page app (dev/spa) as a static site: Azure Static Web Apps, Free plan, files uploaded by azd (no
// repository link, no build in Azure). Its origin goes into the API's CORS and the SPA registration's redirect URIs.

@description('Static Web Apps resource name.')
param name string

@description('Static Web Apps runs in a few regions only; the site is served from a global edge anyway.')
@allowed(['westus2', 'centralus', 'eastus2', 'westeurope', 'eastasia'])
param location string

@description('Tags of every resource; azd finds the site by its azd-service-name.')
param tags { *: string }

@description('The azure.yaml service deployed to this site.')
param serviceName string

resource site 'Microsoft.Web/staticSites@2024-11-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  sku: {
    name: 'Free'
    tier: 'Free'
  }
  properties: {
    // Pull request previews would be more origins the API does not allow.
    stagingEnvironmentPolicy: 'Disabled'
    allowConfigFileUpdates: true
  }
}

@description('The site name (SERVICE_WEB_NAME for azd).')
output name string = site.name

@description('The site origin, https://<generated host>.azurestaticapps.net: the API allows it (CORS).')
output origin string = 'https://${site.properties.defaultHostname}'
