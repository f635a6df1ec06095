#!/usr/bin/env bash
# Installs a real VS Code for tests/editors/vscode_web.cjs: code-server (VS Code 1.100 served to
# a browser, from npm) with playwright-core, into $1 (default ~/.cache/infill/code-server).
# code-server's own postinstall downloads ripgrep from GitHub, which is unreachable here, so its
# steps are done by hand: install without scripts, build the native modules with node-gyp, use
# Debian's ripgrep. Needs node 20, g++, make, and the Debian packages chromium, ripgrep and
# libkrb5-dev (installed by .ci/editors). Idempotent: a finished install is left alone.
set -euo pipefail
dir=${1:-$HOME/.cache/infill/code-server}
version=4.100.3
stamp="$dir/.installed-$version"
[ -f "$stamp" ] && exit 0
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
echo '{"name": "infill-code-server", "private": true}' >package.json
npm install --no-audit --no-fund --loglevel=error --ignore-scripts \
  "code-server@$version" playwright-core@1.65.1
npm rebuild --loglevel=error argon2
cd node_modules/code-server/lib/vscode
npm install --omit=dev --no-audit --no-fund --loglevel=error --ignore-scripts
npm rebuild --loglevel=error @parcel/watcher @vscode/deviceid @vscode/spdlog kerberos native-watchdog
# node-pty builds, then its post-install asks npx for node-gyp only to write compile_commands.json.
npm_config_yes=true npm rebuild --loglevel=error node-pty \
  || echo "note: node-pty's post-install step failed; continuing (its .node is checked below)" >&2
for module in node-pty/build/Release/pty.node @vscode/spdlog/build/Release/spdlog.node; do
  [ -f "node_modules/$module" ] || { echo "native module missing: $module" >&2; exit 1; }
done
mkdir -p node_modules/@vscode/ripgrep/bin
ln -sf "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
ln -sfn node_modules node_modules.asar
(cd extensions && npm install --omit=dev --no-audit --no-fund --loglevel=error --ignore-scripts)
touch "$stamp"
