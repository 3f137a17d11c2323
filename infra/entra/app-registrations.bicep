// Entra app registrations of the OBO API and of its single-page client, with the Microsoft Graph Bicep extension.
//
// `azd up` does not deploy this file: its hooks make the same registrations with Microsoft Graph REST calls
// (scripts/azd/app-registrations.ts). It is kept for teams that deploy Entra objects from Bicep pipelines
// (`az deployment sub create`), in two passes like the hooks:
//   1. without managedIdentityPrincipalId: creates both apps (their ids are outputs);
//   2. after main.bicep, with MANAGED_IDENTITY_PRINCIPAL_ID and SPA_CLIENT_ID: adds the federated credential that lets
//      the Function App's managed identity authenticate as the API (OBO without a secret), the SPA's
//      pre-authorization on the API's scope, and the SPA as a known client (combined consent).
// The API's downstream APIs other than Graph (the Tasks API, ...) come in as downstreamApis: the Graph extension keys a
// service principal by appId only and cannot find it by app ID URI as the hooks do, so each API's appId and scope ids
// are parameters (docs/deployment.md shows how to read them).
// Each pass is idempotent: applications are matched by uniqueName. .ci/infra builds and lints it offline, with the
// extension made from the types vendored in infra/extensions.
targetScope = 'subscription'

extension microsoftGraphV1

@description('azd environment name; makes the uniqueName and display name of each app.')
@minLength(1)
@maxLength(64)
param environmentName string

@description('Redirect URIs of the single-page app (e.g. ["https://app.contoso.com/", "http://localhost:5173/"]).')
param spaRedirectUris string[] = []

@description('App ID URI of the API; empty means api://<tenant id>/<API uniqueName>.')
param apiAppIdUri string = ''

@description('Delegated scope the API exposes.')
param apiScopeName string = 'access_as_user'

@description('Principal (object) id of the Function App\'s user-assigned identity (azd output MANAGED_IDENTITY_PRINCIPAL_ID); empty on the first pass.')
param managedIdentityPrincipalId string = ''

@description('Client id of the SPA from the first pass (SPA_CLIENT_ID); empty on the first pass.')
param spaClientId string = ''

@description('Grant tenant-wide (admin) consent for the API\'s permissions on Graph and on each of downstreamApis, for all users. Needs an administrator role.')
param grantAdminConsent bool = false

@description('A downstream API of the tenant the API calls on users\' behalf (such as the Tasks API), as its registration in this tenant names it.')
type downstreamApi = {
  @description('appId (client id) of the downstream API; its service principal must exist in this tenant.')
  appId: string

  @description('The delegated permissions the operations table (shared/downstream/operations.ts) declares on it: each scope\'s id and value, as the API exposes them (e.g. Tasks.ReadWrite).')
  @minLength(1)
  scopes: {
    @description('The scope\'s id in the downstream API\'s registration (its oauth2PermissionScopes).')
    id: string

    @description('The scope\'s value, the permission\'s name in the operations table.')
    value: string
  }[]
}

@description('The downstream APIs other than Graph that the settings configure (TASKS_API_APP_ID_URI, ...): required by the API registration and, with grantAdminConsent, consented for all users. Empty: Graph only.')
param downstreamApis downstreamApi[] = []

var apiUniqueName = 'obo-api-${environmentName}'
var spaUniqueName = 'obo-spa-${environmentName}'
var effectiveApiAppIdUri = empty(apiAppIdUri) ? 'api://${tenant().tenantId}/${apiUniqueName}' : apiAppIdUri
// Stable across deployments, so the SPA's grant and pre-authorization keep pointing at the same scope.
var apiScopeId = guid(tenant().tenantId, apiUniqueName, apiScopeName)
// The API's app roles (shared/auth/appRoles.ts; test/permissions.test.ts checks): stable ids, as for the scope.
var apiAppRoles = [
  {
    value: 'Tasks.Admin'
    displayName: 'Tasks administrator'
    description: 'Can delete tasks through the OBO API (DELETE /api/tasks/{id}).'
  }
]
var microsoftGraphAppId = '00000003-0000-0000-c000-000000000000'
// The Graph permissions of the operations table, sorted by name, with their delegated permission ids: the azd hooks
// read the same file (shared/downstream/permissions.ts; test/permissions.test.ts checks and names a missing entry).
var graphPermissions = loadJsonContent('graph-permissions.json')
var graphConsentScope = join(map(graphPermissions, permission => permission.value), ' ')
// What the API calls on users' behalf, as its consent texts say (consentDescription in shared/downstream/permissions.ts).
var consentUses = 'Microsoft Graph (${join(map(graphPermissions, permission => permission.value), ', ')}); Tasks API (Tasks.ReadWrite)'
// Federated credentials trust tokens the tenant's v2.0 issuer gives the managed identity, for the token exchange
// audience of the cloud this deploys to.
var loginEndpoint = environment().authentication.loginEndpoint
var managedIdentityIssuer = '${loginEndpoint}${tenant().tenantId}/v2.0'
var tokenExchangeAudiences = {
  AzureCloud: 'api://AzureADTokenExchange'
  AzureUSGovernment: 'api://AzureADTokenExchangeUSGov'
  AzureChinaCloud: 'api://AzureADTokenExchangeChina'
}
var tokenExchangeAudience = tokenExchangeAudiences[?environment().name] ?? tokenExchangeAudiences.AzureCloud

resource api 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: apiUniqueName
  displayName: 'OBO API (${environmentName})'
  signInAudience: 'AzureADMyOrg'
  identifierUris: [effectiveApiAppIdUri]
  api: {
    // v2 access tokens: aud is the client id, iss is https://login.microsoftonline.com/<tenant>/v2.0.
    requestedAccessTokenVersion: 2
    oauth2PermissionScopes: [
      {
        id: apiScopeId
        value: apiScopeName
        type: 'User'
        isEnabled: true
        adminConsentDisplayName: 'Access the OBO API as the signed-in user'
        adminConsentDescription: 'Lets the app call the OBO API, which calls on the user\'s behalf: ${consentUses}.'
        userConsentDisplayName: 'Access the OBO API as you'
        userConsentDescription: 'Lets the app call the OBO API, which calls on your behalf: ${consentUses}.'
      }
    ]
    // The SPA is pre-authorized: users are never asked to consent to it calling this API.
    preAuthorizedApplications: empty(spaClientId)
      ? []
      : [
          {
            appId: spaClientId
            delegatedPermissionIds: [apiScopeId]
          }
        ]
    // Combined consent: consenting to the SPA also consents to this API's Graph permission (needed for OBO).
    knownClientApplications: empty(spaClientId) ? [] : [spaClientId]
  }
  // What routes may require beyond the scope; an administrator assigns them to users (docs/api.md).
  appRoles: [
    for role in apiAppRoles: {
      id: guid(tenant().tenantId, apiUniqueName, 'appRole', role.value)
      value: role.value
      displayName: role.displayName
      description: role.description
      allowedMemberTypes: ['User']
      isEnabled: true
    }
  ]
  requiredResourceAccess: concat(
    [
      {
        resourceAppId: microsoftGraphAppId
        resourceAccess: map(graphPermissions, permission => {
          id: permission.id
          type: 'Scope'
        })
      }
    ],
    map(downstreamApis, downstream => {
      resourceAppId: downstream.appId
      resourceAccess: map(downstream.scopes, scope => {
        id: scope.id
        type: 'Scope'
      })
    })
  )

  // The Function App's managed identity is the API's only credential: no client secret, no certificate.
  resource managedIdentityCredential 'federatedIdentityCredentials@v1.0' = if (!empty(managedIdentityPrincipalId)) {
    name: '${api.uniqueName}/function-app-managed-identity'
    description: 'The OBO Function App\'s user-assigned managed identity'
    issuer: managedIdentityIssuer
    subject: managedIdentityPrincipalId
    audiences: [tokenExchangeAudience]
  }
}

resource apiServicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: api.appId
}

resource spa 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: spaUniqueName
  displayName: 'OBO SPA (${environmentName})'
  signInAudience: 'AzureADMyOrg'
  spa: {
    redirectUris: spaRedirectUris
  }
  requiredResourceAccess: [
    {
      resourceAppId: api.appId
      resourceAccess: [
        {
          id: apiScopeId
          type: 'Scope'
        }
      ]
    }
  ]
}

resource spaServicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: spa.appId
}

resource graphServicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: microsoftGraphAppId
}

// Optional tenant-wide consent for the API's own permissions, instead of each user consenting: Graph's, then each
// downstream API's.
resource graphConsent 'Microsoft.Graph/oauth2PermissionGrants@v1.0' = if (grantAdminConsent) {
  clientId: apiServicePrincipal.id
  resourceId: graphServicePrincipal.id
  consentType: 'AllPrincipals'
  scope: graphConsentScope
}

resource downstreamServicePrincipals 'Microsoft.Graph/servicePrincipals@v1.0' existing = [
  for downstream in downstreamApis: {
    appId: downstream.appId
  }
]

resource downstreamConsent 'Microsoft.Graph/oauth2PermissionGrants@v1.0' = [
  for (downstream, i) in downstreamApis: if (grantAdminConsent) {
    clientId: apiServicePrincipal.id
    resourceId: downstreamServicePrincipals[i].id
    consentType: 'AllPrincipals'
    scope: join(map(downstream.scopes, scope => scope.value), ' ')
  }
]

@description('API_CLIENT_ID: client id of the API.')
output apiClientId string = api.appId

@description('API_APP_ID_URI: App ID URI of the API.')
output apiAppIdUri string = effectiveApiAppIdUri

@description('The scope a SPA requests to call the API.')
output apiScope string = '${effectiveApiAppIdUri}/${apiScopeName}'

@description('SPA_CLIENT_ID: client id of the SPA.')
output spaClientId string = spa.appId

@description('Whether the federated credential for the managed identity is in place (second pass done).')
output managedIdentityTrusted bool = !empty(managedIdentityPrincipalId)
