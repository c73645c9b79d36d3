package lab

import (
	"fmt"
	"strings"
)

// Mail on the lab's web hosts: Postfix receives on the host's address,
// port 25, and hands the mailboxes' mail to Dovecot's LMTP, which also
// serves IMAP on port 143. The node writes the maps both read (node/apply's
// MailConfig); the lab writes the rest of their configuration.
const (
	postfixMaster = "/usr/lib/postfix/sbin/master"
	dovecotPath   = "/usr/sbin/dovecot"
	// SMTPPort and IMAPPort are where a web host's mail servers listen.
	SMTPPort = 25
	IMAPPort = 143
)

// prepareMail gives a web host its own Postfix queue and Dovecot state
// (copies of the machine's freshly installed ones) and its configuration.
func (p *preparer) prepareMail(h HostSpec) {
	p.run("cp", "-a", "/var/spool/postfix", p.path("postfix-spool"))
	p.run("cp", "-a", "/var/lib/postfix", p.path("postfix-lib"))
	p.mkdir("dovecot-lib", 0o755, "root", "root")
	p.write("etc/postfix/main.cf", renderPostfixMain(h), 0o644)
	p.write("etc/postfix/master.cf", renderPostfixMaster(h), 0o644)
	p.mkdir("etc/postfix/ferry", 0o755, "root", "root")
	// Empty tables until the node writes its own, so that Postfix starts.
	for _, t := range []string{"domains", "aliases", "mailboxes", "transport", "relay"} {
		p.write("etc/postfix/ferry/"+t, "", 0o644)
		p.run("postmap", "-c", p.path("etc/postfix"), "hash:"+p.path("etc/postfix/ferry/"+t))
	}
	p.write("etc/dovecot/dovecot.conf", renderDovecot(h), 0o644)
	p.write("etc/dovecot/ferry-users", "", 0o644)
	p.mkdir("log/ferry-lab/mail", 0o755, "root", "root")
}

// renderPostfixMain is a web host's main.cf: the order's domains are
// virtual alias domains whose addresses the node maps to its mailboxes
// (delivered by Dovecot's LMTP) or to forwards; a move's relay to the new
// host is the transport map. No local delivery.
func renderPostfixMain(h HostSpec) string {
	return fmt.Sprintf(`# Written by ferry lab for %[1]s.
compatibility_level = 3.6
myhostname = %[1]s.lab.invalid
mydomain = lab.invalid
myorigin = $myhostname
mydestination =
# Postfix takes only an interface's own address here; 127.0.S.N are not
# (all of 127/8 is local without them), so smtpd's listener in master.cf
# names the host's address itself.
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_banner = $myhostname ESMTP
biff = no
append_dot_mydomain = no
alias_maps =
alias_database =
local_transport = error:5.1.1 no local delivery on this host
smtputf8_enable = no
maillog_file = /var/log/ferry-lab/mail/postfix.log
virtual_alias_domains = hash:/etc/postfix/ferry/domains
virtual_alias_maps = hash:/etc/postfix/ferry/aliases
virtual_mailbox_domains = mailbox.ferry.invalid
virtual_mailbox_maps = hash:/etc/postfix/ferry/mailboxes
virtual_transport = lmtp:unix:private/dovecot-lmtp
transport_maps = hash:/etc/postfix/ferry/transport
relay_domains = hash:/etc/postfix/ferry/relay
`, h.Name)
}

// postfixServices are master.cf's services, as Debian's with none run in a
// chroot: a lab host's queue directory has no copy of /etc to chroot into.
var postfixServices = [][]string{
	{"{address}:smtp", "inet", "n", "-", "n", "-", "-", "smtpd"},
	{"pickup", "unix", "n", "-", "n", "60", "1", "pickup"},
	{"cleanup", "unix", "n", "-", "n", "-", "0", "cleanup"},
	{"qmgr", "unix", "n", "-", "n", "300", "1", "qmgr"},
	{"tlsmgr", "unix", "-", "-", "n", "1000?", "1", "tlsmgr"},
	{"rewrite", "unix", "-", "-", "n", "-", "-", "trivial-rewrite"},
	{"bounce", "unix", "-", "-", "n", "-", "0", "bounce"},
	{"defer", "unix", "-", "-", "n", "-", "0", "bounce"},
	{"trace", "unix", "-", "-", "n", "-", "0", "bounce"},
	{"verify", "unix", "-", "-", "n", "-", "1", "verify"},
	{"flush", "unix", "n", "-", "n", "1000?", "0", "flush"},
	{"proxymap", "unix", "-", "-", "n", "-", "-", "proxymap"},
	{"proxywrite", "unix", "-", "-", "n", "-", "1", "proxymap"},
	{"smtp", "unix", "-", "-", "n", "-", "-", "smtp"},
	{"relay", "unix", "-", "-", "n", "-", "-", "smtp"},
	{"showq", "unix", "n", "-", "n", "-", "-", "showq"},
	{"error", "unix", "-", "-", "n", "-", "-", "error"},
	{"retry", "unix", "-", "-", "n", "-", "-", "error"},
	{"discard", "unix", "-", "-", "n", "-", "-", "discard"},
	{"lmtp", "unix", "-", "-", "n", "-", "-", "lmtp"},
	{"anvil", "unix", "-", "-", "n", "-", "1", "anvil"},
	{"scache", "unix", "-", "-", "n", "-", "1", "scache"},
	{"postlog", "unix-dgram", "n", "-", "n", "-", "1", "postlogd"},
}

func renderPostfixMaster(h HostSpec) string {
	var b strings.Builder
	b.WriteString("# Written by ferry lab for " + h.Name + ".\n")
	for _, s := range postfixServices {
		name := strings.ReplaceAll(s[0], "{address}", h.Address)
		fmt.Fprintf(&b, "%-11s %-10s %-3s %-3s %-3s %-6s %-3s %s\n", name, s[1], s[2], s[3], s[4], s[5], s[6], s[7])
	}
	return b.String()
}

// renderDovecot is a web host's dovecot.conf: IMAP on the host's address,
// LMTP for Postfix, a mailbox's owner logs in with the account's own
// password (the host's shadow file) and must be in the node's userdb.
func renderDovecot(h HostSpec) string {
	return fmt.Sprintf(`# Written by ferry lab for %[1]s.
protocols = imap lmtp
listen = %[2]s
base_dir = /run/dovecot
state_dir = /var/lib/dovecot
log_path = /var/log/ferry-lab/mail/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1000
mail_location = maildir:~/Maildir
mail_plugins = quota
passdb {
  driver = shadow
}
userdb {
  driver = passwd-file
  args = /etc/dovecot/ferry-users
}
service lmtp {
  unix_listener /var/spool/postfix/private/dovecot-lmtp {
    user = postfix
    group = postfix
    mode = 0600
  }
}
protocol lmtp {
  postmaster_address = postmaster@%[1]s.lab.invalid
  auth_username_format = %%Ln
}
protocol imap {
  mail_plugins = $mail_plugins imap_quota
}
plugin {
  quota = maildir:User quota
}
`, h.Name, h.Address)
}
