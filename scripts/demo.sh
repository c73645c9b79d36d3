#!/usr/bin/env bash
# demo.sh: a lab of real hosts, a member's PHP + MariaDB site with a cron job
# and DNS on web1, a visitor writing to it all along, and the whole move to
# web2 — then proof that it answers from web2 and that no write was lost.
# Run by `make demo` (as root). DEMO_KEEP=1 leaves the lab running.
set -euo pipefail
cd "$(dirname "$0")/.."
FERRY=${FERRY:-bin/ferry}
LABDIR=${LABDIR:-/var/lib/ferry-lab-demo}
DOMAIN=garden.example

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

if [ "$(id -u)" != 0 ]; then
	echo "demo: run as root (the lab makes namespaces and starts servers)" >&2
	exit 1
fi

writer_pid=""
cleanup() {
	[ -n "$writer_pid" ] && kill "$writer_pid" 2>/dev/null || true
	if [ "${DEMO_KEEP:-0}" != 1 ]; then
		"$FERRY" lab down --dir "$LABDIR" >/dev/null 2>&1 || true
	fi
}
trap cleanup EXIT

say "bring up the lab: web1, web2, dns1, a control plane"
"$FERRY" lab down --dir "$LABDIR" >/dev/null 2>&1 || true
run "$FERRY" lab up --dir "$LABDIR" --subnet "${DEMO_SUBNET:-5}"
state="$LABDIR/lab.json"
export FERRY_SERVER FERRY_TOKEN_FILE
FERRY_SERVER=$(sed -n 's/.*"url": *"\([^"]*\)".*/\1/p' "$state" | head -1)
FERRY_TOKEN_FILE=$(sed -n 's/.*"admin_token_path": *"\([^"]*\)".*/\1/p' "$state" | head -1)
addr() { "$FERRY" lab status --dir "$LABDIR" --json | tr -d ' \n' | grep -o "\"name\":\"$1\",\"address\":\"[0-9.]*\"" | sed 's/.*"address":"//; s/"//'; }
WEB1=$(addr web1); WEB2=$(addr web2); DNS1=$(addr dns1)
on() { "$FERRY" lab exec --dir "$LABDIR" "$@"; }

say "a member's site on web1: account, vhost with PHP-FPM, database, cron job, DNS"
run "$FERRY" member add garden --friendly-name "Community Garden"
run "$FERRY" order add "$DOMAIN" --member garden --host web1
echo 'garden-pass-1' | run "$FERRY" item add "$DOMAIN" user-account --login garden --password-file -
run "$FERRY" item add "$DOMAIN" mysql-db --name garden_site
echo 'garden-db-pass' | run "$FERRY" item add "$DOMAIN" mysql-user --name garden --database garden_site --password-file -
run "$FERRY" item add "$DOMAIN" web-conf --login garden --server-name "$DOMAIN,www.$DOMAIN"
run "$FERRY" item add "$DOMAIN" scheduled-job --login garden --schedule '*/15 * * * *' --command 'php web/tidy.php'
run "$FERRY" item add "$DOMAIN" dns --type A --value "$WEB1" --ttl 3600
run "$FERRY" item add "$DOMAIN" dns --fqdn "www.$DOMAIN" --type A --value "$WEB1" --ttl 3600
run "$FERRY" item add "$DOMAIN" mailbox --login garden --quota-mb 100
run "$FERRY" item add "$DOMAIN" email-address --address "info@$DOMAIN" --login garden
run "$FERRY" item add "$DOMAIN" dns --type MX --value "10 mail.$DOMAIN" --ttl 3600
run "$FERRY" item add "$DOMAIN" dns --fqdn "mail.$DOMAIN" --type A --value "$WEB1" --ttl 3600
for _ in $(seq 1 50); do
	pending=$("$FERRY" item list --order "$DOMAIN" --json | grep -c '"state": "pending' || true)
	[ "$pending" = 0 ] && break
	sleep 0.2
done
run "$FERRY" order show "$DOMAIN"

dir=/home/members/garden/sites/$DOMAIN
on web1 -- mariadb garden_site -e "CREATE TABLE visits (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(100), at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)"
on web1 -- tee "$dir/web/index.php" >/dev/null <<'PHP'
<?php
$db = new mysqli('localhost', 'garden', 'garden-db-pass', 'garden_site');
if (isset($_GET['note'])) {
    $st = $db->prepare('INSERT INTO visits (note) VALUES (?)');
    $st->bind_param('s', $_GET['note']);
    if (!$st->execute()) { http_response_code(500); exit; }
    echo "ok\n";
    exit;
}
$n = $db->query('SELECT COUNT(*) FROM visits')->fetch_row()[0];
echo "<html><head><title>Community Garden</title></head><body>$n visits so far</body></html>\n";
PHP
on web1 -- chown garden: "$dir/web/index.php"
echo "the site, found through ferry's DNS on dns1 ($DNS1):"
run dig +short @"$DNS1" "www.$DOMAIN"
run curl -s -H "Host: www.$DOMAIN" "http://$WEB1/"

say "mail: a message to info@$DOMAIN, delivered on web1 through the MX ferry's DNS serves"
mailto() { # mailto SUBJECT: to the host the order's MX names now
	mx=$(dig +short @"$DNS1" MX "$DOMAIN" | awk '{print $2}' | head -1)
	swaks --server "$(dig +short @"$DNS1" "$mx" | head -1)" --to "info@$DOMAIN" --from member@outside.example \
		--header "Subject: $1" --body "$1" >/dev/null
}
mailto "before the move"
sleep 1
run on web1 -- doveadm -f flow fetch -u garden 'uid flags hdr.subject' mailbox INBOX
mail_before=$(on web1 -- doveadm -f flow fetch -u garden 'uid hdr.subject' mailbox INBOX)
uidv_before=$(on web1 -- doveadm -f flow mailbox status -u garden uidvalidity INBOX)

say "a visitor keeps writing to the site during the whole move"
acks=$(mktemp)
(
	i=0
	while :; do
		i=$((i + 1))
		while :; do
			ip=$(dig +short @"$DNS1" "www.$DOMAIN" | head -1)
			if [ "$(curl -s --max-time 5 -H "Host: www.$DOMAIN" "http://$ip/?note=visit-$i" || true)" = ok ]; then
				echo "visit-$i $ip" >>"$acks"
				break
			fi
			sleep 0.1
		done
		sleep 0.2
	done
) &
writer_pid=$!

say "plan: what will happen (changes nothing)"
run "$FERRY" move plan "$DOMAIN" --to web2
say "start: TTLs down to 300 s, a transfer-limbo order keeps serving on web1, copies on web2"
run "$FERRY" move start "$DOMAIN" --to web2
say "sync: files, databases and crontabs, web1 → web2 over a key made for this move"
run "$FERRY" move sync "$DOMAIN"
say "verify: items, files, tables and the site over HTTP on both hosts"
run "$FERRY" move verify "$DOMAIN"
say "cutover: freeze, final sync, web1 proxies to web2, DNS switch, TTLs restored"
echo "(a real move waits until the old 3600 s TTL has run out since start; the demo"
echo " does not wait an hour, so it uses --skip-ttl-wait, and ferry says what that risks)"
run "$FERRY" move cutover "$DOMAIN" --skip-ttl-wait
sleep 2
kill "$writer_pid" 2>/dev/null || true
wait "$writer_pid" 2>/dev/null || true
writer_pid=""
say "cleanup: web1's copy removed (--skip-ttl-wait again: cleanup normally waits 2 × 300 s)"
run "$FERRY" move cleanup "$DOMAIN" --skip-ttl-wait

say "after the move"
mailto "after the move"
sleep 1
run on web2 -- doveadm -f flow fetch -u garden 'uid flags hdr.subject' mailbox INBOX
mail_after=$(on web2 -- doveadm -f flow fetch -u garden 'uid hdr.subject' mailbox INBOX)
uidv_after=$(on web2 -- doveadm -f flow mailbox status -u garden uidvalidity INBOX)
mail_ok=1
grep -qxF "$mail_before" <<<"$mail_after" || mail_ok=0
grep -q "hdr.subject=after the move" <<<"$mail_after" || mail_ok=0
[ "$uidv_before" = "$uidv_after" ] || mail_ok=0
run dig +short @"$DNS1" "www.$DOMAIN"
run curl -s -H "Host: www.$DOMAIN" "http://$WEB2/"
acked=$(wc -l <"$acks")
lost=0
rows=$(on web2 -- mariadb -N garden_site -e "SELECT note FROM visits")
while read -r note _; do
	grep -qx "$note" <<<"$rows" || lost=$((lost + 1))
done <"$acks"
via1=$(grep -c " $WEB1\$" "$acks" || true)
via2=$(grep -c " $WEB2\$" "$acks" || true)
rm -f "$acks"
left=$(on web1 -- sh -c "getent passwd garden; ls $dir 2>/dev/null; mariadb -N -e 'SHOW DATABASES' | grep garden; crontab -l -u garden 2>/dev/null; grep -rlsF $DOMAIN /etc/postfix/ferry /etc/dovecot/ferry-users /var/lib/ferry-node/mail" 2>/dev/null || true)

say "summary"
"$FERRY" move status "$DOMAIN" | sed -n '1,12p'
echo
echo "visitor writes acknowledged: $acked ($via1 answered through web1, $via2 through web2); lost: $lost"
if [ -z "$left" ]; then echo "web1 holds nothing of $DOMAIN"; else echo "web1 still holds: $left"; fi
if [ "$mail_ok" = 1 ]; then
	echo "mail: the mailbox moved with its UIDs and $uidv_after; mail sent after the move arrived on web2"
else
	echo "mail: before the move web1 had [$mail_before] $uidv_before; after it web2 has [$mail_after] $uidv_after"
fi
if [ "$lost" != 0 ] || [ -n "$left" ] || [ "$mail_ok" != 1 ]; then
	exit 1
fi
if [ "${DEMO_KEEP:-0}" = 1 ]; then
	echo; echo "the lab keeps running (DEMO_KEEP=1): FERRY_SERVER=$FERRY_SERVER FERRY_TOKEN_FILE=$FERRY_TOKEN_FILE; $FERRY lab down --dir $LABDIR ends it"
fi
