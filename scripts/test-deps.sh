#!/usr/bin/env bash
# Installs what `make test` needs on a fresh Debian 12 machine, and does
# nothing (in well under a second) when it is all there:
#   - gcc and libc headers: `go test -race` needs cgo;
#   - the browsers that internal/browsertest drives: chromium, firefox-esr,
#     and WebKit as webkit2gtk-driver (WebKitWebDriver and MiniBrowser)
#     with xvfb for its display (xauth too: xvfb only recommends it, and
#     xvfb-run needs it);
#   - nginx and haproxy, the TLS proxies of the deploy/ tests (Debian's
#     policy-rc.d, or the lack of an init system, keeps them from starting
#     as services);
#   - python3-websockets and python3-socketio (with python3-requests and
#     python3-websocket, its client's transports) for Debian's /usr/bin/python3
#     (a pyenv python3 first on PATH does not see Debian's modules, so it is
#     not asked);
#   - node and npm, then the npm packages pinned in
#     test/interop/node/package-lock.json (ws, puppeteer-core, eventsource,
#     socket.io-client, engine.io-client, and the socket.io and engine.io
#     servers the Socket.IO tests compare c1m with).
# Every package goes in with --no-install-recommends: the browsers run
# headless without what they recommend (media codecs, GL and portal
# helpers for WebKit), as this machine shows.
# Non-interactive (CI: root, no stdin); uses sudo when not root.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
echo 'int main(void){return 0;}' | gcc -x c -o /dev/null - >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v firefox-esr >/dev/null 2>&1 || need+=(firefox-esr)
command -v WebKitWebDriver >/dev/null 2>&1 || need+=(webkit2gtk-driver)
{ command -v Xvfb && command -v xvfb-run; } >/dev/null 2>&1 || need+=(xvfb)
command -v xauth >/dev/null 2>&1 || need+=(xauth)
# /usr/sbin is not on every user's PATH.
[ -x /usr/sbin/nginx ] || need+=(nginx)
[ -x /usr/sbin/haproxy ] || need+=(haproxy)
/usr/bin/python3 -c 'import websockets; websockets.connect' >/dev/null 2>&1 || need+=(python3-websockets)
/usr/bin/python3 -c 'import socketio; socketio.Client' >/dev/null 2>&1 || need+=(python3-socketio)
# socketio.Client's transports: requests for polling, websocket-client for
# WebSocket (python3-engineio only suggests them).
/usr/bin/python3 -c 'import requests' >/dev/null 2>&1 || need+=(python3-requests)
/usr/bin/python3 -c 'import websocket; websocket.WebSocket' >/dev/null 2>&1 || need+=(python3-websocket)
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

# The pinned npm packages need Node 20 or newer (eventsource 4; the newest
# puppeteer-core and eventsource want 22, hence the older pins). The
# machine image has Node 20; Debian 12's own nodejs is 18.
node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)' ||
	echo "test-deps: warning: node $(node --version) is older than 20, which the pinned npm packages need" >&2

# npm packages exactly as locked, reinstalled only when the lockfile
# changed. --ignore-scripts: none of them needs a build step, and it keeps
# any package from downloading a browser or binaries at install time;
# PUPPETEER_SKIP_DOWNLOAD says the same to puppeteer-core, which
# internal/browsertest points at Debian's firefox-esr.
dir=test/interop/node
stamp="$dir/node_modules/.c1m-lock-stamp"
if [ ! -f "$stamp" ] || ! cmp -s "$dir/package-lock.json" "$stamp"; then
	echo "test-deps: npm ci in $dir"
	(cd "$dir" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error </dev/null)
	cp "$dir/package-lock.json" "$stamp"
fi
echo "test-deps: ok"
