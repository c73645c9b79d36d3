#!/bin/sh
# ui-deps.sh installs what the web UI's browser tests need: Debian's
# chromium (driven headless at /usr/bin/chromium) and a font to render text
# in screenshots. Idempotent and fast when everything is there: it only asks
# dpkg. Other scripts may run apt at the same time, so apt waits for the
# dpkg lock instead of failing.
set -eu

PACKAGES="chromium fonts-dejavu-core"

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	if [ "$status" != "installed" ]; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ] && [ -x /usr/bin/chromium ]; then
	echo "ui-deps: all packages installed"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "ui-deps: missing:$missing; run as root to install" >&2
	exit 1
fi

echo "ui-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt="apt-get -o DPkg::Lock::Timeout=600"
$apt update -qq
# shellcheck disable=SC2086 # word splitting of the package list is wanted
$apt install -y -qq --no-install-recommends $missing
/usr/bin/chromium --version
