// The Microsoft Sentinel watchlist SOC analysts keep the detection's exclusions in
// (EXCLUSIONS_WATCHLIST): created here with its columns and one template row that suppresses
// nothing; analysts add, edit and expire rows in the Sentinel portal (Watchlist → Update
// watchlist), and every run reads it with _GetWatchlist (functions/triage/watchlist.ts).
// Deployed where the workspace is.
//
// The columns come from functions/triage/exclusions-watchlist.json, the one place the function,
// this module and the sandbox read them from.
//
// Properties: Microsoft.SecurityInsights/watchlists@2025-09-01, WatchlistProperties in the REST
// spec (azure-rest-api-specs, securityinsights stable/2025-09-01/Watchlists.json): displayName,
// provider and itemsSearchKey are required. No rawContent: a CSV with a header and no item is
// refused ("Invalid csv content : no watchlist items found in the provided rawContent",
// Azure/Azure-Sentinel#5040), and Create Or Update with content "creates or updates a Watchlist
// and its Watchlist Items (bulk creation)" (learn.microsoft.com/rest/api/securityinsights/
// watchlists/create-or-update), which a redeployment should not do to the analysts' rows. The
// watchlist alone is created as Microsoft's own Bicep sample does (Azure/template-reference-
// generator, settings/remarks/microsoft.securityinsights/samples/watchlists/main.bicep), and the
// columns come with one template item (watchlists/watchlistItems, itemsKeyValue): a redeployment
// writes that item again and leaves every other row alone.

@description('Name of the existing Sentinel-enabled Log Analytics workspace.')
param workspaceName string

@description('Alias of the watchlist: its name in _GetWatchlist(\'<alias>\') and EXCLUSIONS_WATCHLIST.')
@minLength(1)
@maxLength(64)
param alias string

var contract = loadJsonContent('../../functions/triage/exclusions-watchlist.json')

resource workspace 'Microsoft.OperationalInsights/workspaces@2025-07-01' existing = {
  name: workspaceName
}

resource watchlist 'Microsoft.SecurityInsights/watchlists@2025-09-01' = {
  name: alias
  scope: workspace
  properties: {
    displayName: 'nbtscan-detector exclusions'
    description: 'Activity verified as benign that nbtscan-detector suppresses until it expires. One row per exclusion: Name (unique), Expires (2026-06-30 or a date-time), Reason, Owner, Devices and Accounts (comma-separated, optional), Condition (JSON or YAML flow, e.g. { column: FolderPath, contains: Inventory }). A bad row is skipped with a warning in the function\'s log.'
    provider: 'nbtscan-detector'
    source: '${alias}.csv'
    sourceType: 'Local'
    watchlistAlias: alias
    itemsSearchKey: contract.searchKey
  }
}

// A fixed item id (a GUID, as the API requires), so a redeployment updates this item, not a copy.
resource templateRow 'Microsoft.SecurityInsights/watchlists/watchlistItems@2025-09-01' = {
  parent: watchlist
  name: guid(watchlist.id, 'template-row')
  properties: {
    itemsKeyValue: contract.templateRow
  }
}

@description('The alias, for the function\'s EXCLUSIONS_WATCHLIST setting.')
output alias string = watchlist.name
