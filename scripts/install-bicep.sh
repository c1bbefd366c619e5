#!/usr/bin/env bash
# Installs the Bicep CLI into <repo>/.tools/bicep/bicep from the NuGet package
# Azure.Bicep.CommandLine.linux-x64: NuGet is the one registry reachable from CI and developer
# machines, and the CLI's own installer downloads from GitHub, which is not.
# Idempotent: does nothing when the installed CLI already answers --version.
set -euo pipefail

BICEP_VERSION="0.47.16"
PACKAGE="Azure.Bicep.CommandLine.linux-x64"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target_dir="${repo_root}/.tools/bicep"
target="${target_dir}/bicep"

if [[ -x "${target}" ]] && "${target}" --version >/dev/null 2>&1; then
  echo "bicep already installed: $("${target}" --version)"
  exit 0
fi

if ! command -v dotnet >/dev/null 2>&1; then
  echo "install-bicep: dotnet SDK not found; it is needed to restore ${PACKAGE} from NuGet" >&2
  exit 1
fi

# The throwaway project lives outside the repo so restore leaves no obj/ or packages behind in it.
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

cat >"${work}/bicep-download.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net10.0</TargetFramework>
  </PropertyGroup>
  <ItemGroup>
    <PackageDownload Include="${PACKAGE}" Version="[${BICEP_VERSION}]" />
  </ItemGroup>
</Project>
XML

DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 \
  dotnet restore "${work}/bicep-download.csproj" --packages "${work}/pkgs" >"${work}/restore.log" 2>&1 || {
  cat "${work}/restore.log" >&2
  echo "install-bicep: dotnet restore of ${PACKAGE} ${BICEP_VERSION} failed" >&2
  exit 1
}

# NuGet lower-cases package ids in the global-packages layout.
package_dir="${work}/pkgs/$(echo "${PACKAGE}" | tr '[:upper:]' '[:lower:]')/${BICEP_VERSION}"
source="${package_dir}/tools/bicep"
if [[ ! -f "${source}" ]]; then
  echo "install-bicep: ${source} not found in the restored package; contents:" >&2
  find "${package_dir}" -maxdepth 3 >&2 || true
  exit 1
fi

mkdir -p "${target_dir}"
cp "${source}" "${target}.tmp"
chmod +x "${target}.tmp"
mv "${target}.tmp" "${target}"
echo "installed: $("${target}" --version)"
