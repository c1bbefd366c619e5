#!/usr/bin/env bash
# Installs the Bicep CLI into <repo>/.tools/bicep/bicep from the NuGet package
# Azure.Bicep.CommandLine.<platform> for this machine (linux-x64, linux-arm64, osx-x64,
# osx-arm64, win-x64: the platforms Bicep publishes it for): NuGet is the one registry reachable
# from CI and developer machines, and the CLI's own installer downloads from GitHub, which is not.
# Idempotent: does nothing when the installed CLI already answers --version.
set -euo pipefail

BICEP_VERSION="0.47.16"

# The package for this operating system and processor; BICEP_PLATFORM overrides the guess.
detect_platform() {
  local os arch
  case "$(uname -s)" in
    Linux) os="linux" ;;
    Darwin) os="osx" ;;
    MINGW* | MSYS* | CYGWIN*) os="win" ;;
    *) os="unknown" ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch="x64" ;;
    aarch64 | arm64) arch="arm64" ;;
    *) arch="unknown" ;;
  esac
  echo "${os}-${arch}"
}
PLATFORM="${BICEP_PLATFORM:-$(detect_platform)}"
case "${PLATFORM}" in
  linux-x64 | linux-arm64 | osx-x64 | osx-arm64 | win-x64) ;;
  *)
    echo "install-bicep: no Bicep CLI package for ${PLATFORM}; Bicep publishes linux-x64, linux-arm64, osx-x64, osx-arm64 and win-x64 (set BICEP_PLATFORM to pick one)" >&2
    exit 1
    ;;
esac
PACKAGE="Azure.Bicep.CommandLine.${PLATFORM}"
# Windows' executable carries its extension.
EXE=""
[[ "${PLATFORM}" == win-* ]] && EXE=".exe"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target_dir="${repo_root}/.tools/bicep"
target="${target_dir}/bicep${EXE}"

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
source="${package_dir}/tools/bicep${EXE}"
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
