#!/usr/bin/env bash
# Installs what the test suites need on a fresh Debian machine, and nothing
# when it is all there already: Chromium (browser tests), Python's
# websockets (interop), Node.js with npm and the npm packages pinned in
# test/interop/node/package-lock.json. Non-interactive; runs as root in CI.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
/usr/bin/python3 -c 'import websockets' >/dev/null 2>&1 || need+=(python3-websockets)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)

if [ ${#need[@]} -gt 0 ]; then
	echo "test-deps: installing ${need[*]}"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# npm packages pinned by the lockfile, installed only when it changed.
for dir in test/interop/node; do
	[ -f "$dir/package-lock.json" ] || continue
	stamp="$dir/node_modules/.lock-stamp"
	if [ ! -f "$stamp" ] || ! cmp -s "$dir/package-lock.json" "$stamp"; then
		echo "test-deps: npm ci in $dir"
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
		cp "$dir/package-lock.json" "$stamp"
	fi
done
echo "test-deps: ok"
