// Holds the playbook trigger URL. The URL carries a SAS signature, so it is a secret: it is read
// here with listCallbackUrl() and written straight into the vault, never into an output, a
// parameter or an app setting. The function resolves it through a Key Vault reference.

@description('Name of the key vault.')
param name string

@description('Azure region.')
param location string

@description('Tags applied to the vault.')
param tags object

@description('Name of the playbook workflow whose trigger URL is stored.')
param playbookName string

@description('Name of the secret that holds the playbook trigger URL.')
param playbookUrlSecretName string

@description('Principal id of the function identity, granted Key Vault Secrets User.')
param readerPrincipalId string

@description('Resource id of the monitoring Log Analytics workspace the vault\'s audit log goes to.')
param logAnalyticsWorkspaceId string

// Key Vault Secrets User: read secret values, nothing else.
var keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'

resource playbook 'Microsoft.Logic/workflows@2019-05-01' existing = {
  name: playbookName
}

resource playbookTrigger 'Microsoft.Logic/workflows/triggers@2019-05-01' existing = {
  parent: playbook
  name: 'manual'
}

resource vault 'Microsoft.KeyVault/vaults@2025-05-01' = {
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
    // Soft delete (always on, and the shortest retention) keeps an accidental delete recoverable
    // for a week. No purge protection: the vault holds only a URL the deployment regenerates, so
    // nothing here is irreplaceable, and purge protection would make `azd down --purge` followed by
    // `azd up` with the same environment fail on the vault name for the whole retention period.
    // enablePurgeProtection cannot be set to false explicitly once on; leaving it out keeps it off.
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource playbookUrlSecret 'Microsoft.KeyVault/vaults/secrets@2025-05-01' = {
  parent: vault
  name: playbookUrlSecretName
  properties: {
    contentType: 'text/uri'
    value: playbookTrigger.listCallbackUrl().value
  }
}

resource secretsUserRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, readerPrincipalId, keyVaultSecretsUserRoleId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      keyVaultSecretsUserRoleId
    )
    principalId: readerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Who read or changed the playbook URL secret, and when: every data-plane and management access.
// 2021-05-01-preview is the current diagnostic settings API (the one Microsoft's templates use);
// the only stable one, 2016-09-01, is the classic form that cannot target a workspace by scope.
#disable-next-line use-recent-api-versions
resource auditLog 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-monitoring'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'AuditEvent'
        enabled: true
      }
    ]
  }
}

output name string = vault.name
// Versionless URI: the reference follows the latest version when a redeploy rotates the URL.
output playbookUrlReferenceUri string = playbookUrlSecret.properties.secretUri
