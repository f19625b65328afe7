#!/usr/bin/env bash
# Installs what `make test` needs on a fresh Debian 12 machine, and does
# nothing (in well under a second) when it is all there:
#   - gcc and libc headers: `go test -race` needs cgo;
#   - chromium: the browser interop test (test/interop/chromium_test.go);
#   - python3-websockets for Debian's /usr/bin/python3 (a pyenv python3
#     first on PATH does not see Debian's modules, so it is not asked);
#   - node and npm, then the npm packages pinned in
#     test/interop/node/package-lock.json.
# Non-interactive (CI: root, no stdin); uses sudo when not root.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
echo 'int main(void){return 0;}' | gcc -x c -o /dev/null - >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
/usr/bin/python3 -c 'import websockets; websockets.connect' >/dev/null 2>&1 || need+=(python3-websockets)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)

if [ ${#need[@]} -gt 0 ]; then
	echo "test-deps: installing ${need[*]}"
	sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo)
	# env, not a prefix assignment: sudo would drop DEBIAN_FRONTEND.
	apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o Dpkg::Use-Pty=0)
	"${apt[@]}" update </dev/null
	"${apt[@]}" install --no-install-recommends "${need[@]}" </dev/null >/dev/null
fi

# npm packages exactly as locked, reinstalled only when the lockfile
# changed. --ignore-scripts: none of them needs a build step, and it keeps
# any package from downloading a browser or binaries at install time.
dir=test/interop/node
stamp="$dir/node_modules/.c1m-lock-stamp"
if [ ! -f "$stamp" ] || ! cmp -s "$dir/package-lock.json" "$stamp"; then
	echo "test-deps: npm ci in $dir"
	(cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error </dev/null)
	cp "$dir/package-lock.json" "$stamp"
fi
echo "test-deps: ok"
