#!/bin/sh
# lab-deps.sh installs the Debian packages that `ferry lab` needs. It is
# idempotent: when everything is installed it only asks dpkg and exits.
# No service is left running afterwards: a policy-rc.d refuses every start
# during the install, and anything a postinst started anyway is stopped.
set -eu

# Pebble, the lab's ACME CA, is a tool of the Go module (go.mod's tool
# line). `go tool -n` builds it into the build cache once; the lab runs it
# from PATH, so it is copied to /usr/local/bin when that copy differs.
if command -v go >/dev/null 2>&1; then
	if ! built=$(cd "$(dirname "$0")/.." && go tool -n pebble); then
		echo "lab-deps: building pebble (go tool pebble) failed" >&2
		exit 1
	fi
	if ! cmp -s "$built" /usr/local/bin/pebble; then
		if [ "$(id -u)" != 0 ]; then
			echo "lab-deps: pebble not installed; run as root to install" >&2
			exit 1
		fi
		install -m 0755 "$built" /usr/local/bin/pebble
		echo "lab-deps: installed /usr/local/bin/pebble"
	fi
fi

PACKAGES="openssh-server rsync mariadb-server mariadb-client apache2 php8.2-fpm
php8.2-mysql php8.2-pgsql postgresql-15 knot knot-dnsutils dnsutils cron
iproute2 nftables acl attr curl util-linux haproxy postfix dovecot-imapd
dovecot-lmtpd swaks"

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	if [ "$status" != "installed" ]; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "lab-deps: all packages installed"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "lab-deps: missing:$missing; run as root to install" >&2
	exit 1
fi

echo "lab-deps: installing:$missing"

# Refuse service starts during the install (exit 101 = action forbidden).
policy=/usr/sbin/policy-rc.d
saved=""
if [ -e "$policy" ]; then
	saved=$(mktemp)
	cp -p "$policy" "$saved"
fi
restore_policy() {
	if [ -n "$saved" ]; then
		mv "$saved" "$policy"
	else
		rm -f "$policy"
	fi
}
trap restore_policy EXIT
printf '#!/bin/sh\nexit 101\n' >"$policy"
chmod 755 "$policy"

export DEBIAN_FRONTEND=noninteractive
# Postfix asks what kind of mail server this is; the lab writes each host's
# main.cf itself, so it gets none from the package (and no mail name).
if command -v debconf-set-selections >/dev/null 2>&1; then
	printf '%s\n' "postfix postfix/main_mailer_type select No configuration" \
		"postfix postfix/mailname string localhost" | debconf-set-selections
fi
apt-get update -qq
# shellcheck disable=SC2086 # word splitting of the package list is wanted
apt-get install -y -qq --no-install-recommends $missing

# Stop anything a postinst started in spite of the policy, by pid file.
for pidfile in /run/mysqld/mysqld.pid /run/apache2/apache2.pid \
	/run/php/php8.2-fpm.pid /run/knot/knot.pid /run/sshd.pid /run/crond.pid \
	/var/spool/postfix/pid/master.pid /run/dovecot/master.pid; do
	if [ -s "$pidfile" ]; then
		pid=$(cat "$pidfile")
		if kill -0 "$pid" 2>/dev/null; then
			echo "lab-deps: stopping pid $pid ($pidfile)"
			kill "$pid" || true
		fi
	fi
done
echo "lab-deps: done"
