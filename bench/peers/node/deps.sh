#!/usr/bin/env bash
# Makes a Node peer runnable on a fresh Debian machine, and does nothing
# (in well under a second) when it already is. The peer is the folder
# given as the argument (bench/peers/socketio-node), by default this one
# (bench/peers/node, the ws peer):
#   - node and npm from Debian (apt-get, non-interactive, sudo when not
#     root), as scripts/test-deps.sh does for the test suites;
#   - the npm packages exactly as package-lock.json pins them (npm ci),
#     reinstalled only when the lockfile changed.
# c1mbench runs it before it measures node-ws or socketio-node; it fails
# loudly rather than letting the peer be skipped in silence.
set -euo pipefail
cd "${1:-$(dirname "$0")}"

# One at a time per folder: go test runs the packages whose tests start
# a Node peer in parallel, and two npm ci in one folder break each other.
exec 9>.c1m-deps.lock
flock 9

need=()
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
	echo "bench node deps: installing ${need[*]}" >&2
	sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo)
	# env, not a prefix assignment: sudo would drop DEBIAN_FRONTEND.
	apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o Dpkg::Use-Pty=0)
	"${apt[@]}" update </dev/null
	"${apt[@]}" install --no-install-recommends "${need[@]}" </dev/null >/dev/null
fi

# --ignore-scripts: ws and socket.io need no build step (ws's native
# helpers are optional peers we do not install).
stamp=node_modules/.c1m-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
	echo "bench node deps: npm ci" >&2
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error </dev/null
	cp package-lock.json "$stamp"
fi
