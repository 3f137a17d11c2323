#!/usr/bin/env bash
# Deploys infra/entra/app-registrations.bicep (Microsoft Graph Bicep extension) for the current azd environment
# and stores the resulting ids in it. Run it before the first `azd up` (creates the API and SPA registrations) and
# again after it (adds the managed identity's federated credential and the SPA's pre-authorization).
# Needs: az (signed in to the tenant, allowed to create app registrations), azd, node.
# Reads from the azd environment: AZURE_ENV_NAME, AZURE_LOCATION, AZURE_SUBSCRIPTION_ID, SPA_REDIRECT_URIS (JSON
# array), and when present MANAGED_IDENTITY_PRINCIPAL_ID, SPA_CLIENT_ID, API_APP_ID_URI, GRANT_ADMIN_CONSENT (true).
set -euo pipefail
cd "$(dirname "$0")/../.."

value() { azd env get-value "$1" 2>/dev/null || true; }

env_name=$(value AZURE_ENV_NAME)
location=$(value AZURE_LOCATION)
subscription=$(value AZURE_SUBSCRIPTION_ID)
if [ -z "$env_name" ] || [ -z "$location" ] || [ -z "$subscription" ]; then
  echo "app-registrations: run 'azd env new <name> --location <region> --subscription <id>' first" >&2
  exit 1
fi
redirect_uris=$(value SPA_REDIRECT_URIS)
# The sample SPA's URL (an output of azd provision, when DEPLOY_SAMPLE_SPA is not false) is a redirect URI too.
sample_spa_url=$(value SAMPLE_SPA_URL)
if [ -n "$sample_spa_url" ]; then
  redirect_uris=$(node -e 'const u = JSON.parse(process.argv[1] || "[]"); if (!u.includes(process.argv[2])) u.push(process.argv[2]); process.stdout.write(JSON.stringify(u));' "$redirect_uris" "$sample_spa_url")
fi
principal_id=$(value MANAGED_IDENTITY_PRINCIPAL_ID)
spa_client_id=$(value SPA_CLIENT_ID)
api_app_id_uri=$(value API_APP_ID_URI)
grant_consent=$(value GRANT_ADMIN_CONSENT)

outputs=$(az deployment sub create \
  --subscription "$subscription" \
  --location "$location" \
  --name "app-registrations-$env_name" \
  --template-file infra/entra/app-registrations.bicep \
  --parameters environmentName="$env_name" \
    spaRedirectUris="${redirect_uris:-[]}" \
    apiAppIdUri="$api_app_id_uri" \
    managedIdentityPrincipalId="$principal_id" \
    spaClientId="$spa_client_id" \
    grantAdminConsent="${grant_consent:-false}" \
  --query properties.outputs --output json)

output() { node -e 'const o = JSON.parse(process.argv[1]); process.stdout.write(String(o[process.argv[2]].value));' "$outputs" "$1"; }

azd env set API_CLIENT_ID "$(output apiClientId)"
azd env set API_APP_ID_URI "$(output apiAppIdUri)"
azd env set SPA_CLIENT_ID "$(output spaClientId)"
azd env set SPA_API_SCOPE "$(output apiScope)"

if [ "$(output managedIdentityTrusted)" = "true" ]; then
  echo "app-registrations: done: the API trusts the Function App's managed identity and pre-authorizes the SPA."
else
  echo "app-registrations: apps created. Next: 'azd up', then run this script again to add the federated credential."
fi
