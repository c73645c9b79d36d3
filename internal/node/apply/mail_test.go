package apply

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"ferry/internal/model"
	"ferry/internal/node/hostexec/hostexectest"
)

// TestMailGolden renders a host's mail entries (two orders, mailboxes with
// and without a quota, addresses to a mailbox, forwarded, or both) into
// Postfix's lookup tables and Dovecot's userdb.
func TestMailGolden(t *testing.T) {
	home := func(order, login string) string {
		return "/home/members/rosa/sites/" + order + "/users/" + login
	}
	entries := []mailEntry{
		{ID: 31, Kind: model.KindEmailAddress, Order: "example.org", Address: "sales@example.org", Login: "rosa", Forward: []string{"rosa@example.net", "info@example.org"}},
		{ID: 30, Kind: model.KindEmailAddress, Order: "example.org", Address: "info@example.org", Login: "rosa"},
		{ID: 20, Kind: model.KindMailbox, Order: "example.org", Login: "rosa", UID: 1001, GID: 1001, Home: home("example.org", "rosa"), QuotaMB: 500},
		{ID: 21, Kind: model.KindMailbox, Order: "shop.example", Login: "shop", UID: 1002, GID: 1002, Home: home("shop.example", "shop")},
		{ID: 32, Kind: model.KindEmailAddress, Order: "shop.example", Address: "orders@mail.shop.example", Login: "shop"},
		{ID: 33, Kind: model.KindEmailAddress, Order: "shop.example", Address: "abuse@shop.example", Forward: []string{"info@example.org"}},
	}
	f := renderMail(entries, "mailbox.ferry.invalid")
	// shop.example has moved: its addresses leave the maps, its domains
	// are relayed to the new host.
	moved := renderMail(append(entries, mailEntry{ID: 99, Kind: mailRelayKind, Order: "shop.example", Domains: []string{"mail.shop.example", "shop.example"}, NextHop: "192.0.2.12"}), "mailbox.ferry.invalid")
	checkGolden(t, "testdata/mail/moved-aliases", moved.Aliases)
	checkGolden(t, "testdata/mail/moved-domains", moved.Domains)
	checkGolden(t, "testdata/mail/moved-transport", moved.Transport)
	checkGolden(t, "testdata/mail/moved-relay", moved.Relay)
	checkGolden(t, "testdata/mail/domains", f.Domains)
	checkGolden(t, "testdata/mail/aliases", f.Aliases)
	checkGolden(t, "testdata/mail/mailboxes", f.Mailboxes)
	checkGolden(t, "testdata/mail/ferry-users", f.Users)
	empty := renderMail(nil, "mailbox.ferry.invalid")
	if string(empty.Aliases) != mailHeader || string(empty.Users) != mailHeader {
		t.Errorf("no entries render %q and %q", empty.Aliases, empty.Users)
	}
}

func TestMailLifeCycle(t *testing.T) {
	e := newTestEnv(t)
	home := filepath.Join(e.a.OrderDir(testOrder), "users", "rosa")
	mailbox := model.Spec{Login: "rosa", QuotaMB: 100}
	info := model.Spec{Address: "info@example.org", Login: "rosa"}
	mc := e.a.cfg.Mail
	read := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	// No account yet: a soft error, nothing written.
	applyOK(t, e, testItem(20, model.KindMailbox, model.StatePendingInsert, mailbox), model.StateSoftError)
	if _, err := os.Stat(mc.DovecotUsers); err == nil {
		t.Error("a failed mailbox wrote the userdb")
	}

	e.host.AddUser("rosa", home)
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	e.host.Ran()
	applyOK(t, e, testItem(20, model.KindMailbox, model.StatePendingInsert, mailbox), model.StateActive)
	for _, d := range []string{"cur", "new", "tmp"} {
		if fi, err := os.Stat(filepath.Join(home, "Maildir", d)); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("Maildir/%s: %v %v", d, fi, err)
		}
	}
	if got := read(mc.DovecotUsers); !strings.Contains(got, "\nrosa::"+strings.Join([]string{itoa(os.Getuid()), itoa(os.Getgid()), "", home, "", "mail=maildir:~/Maildir quota_rule=*:storage=100M"}, ":")+"\n") {
		t.Errorf("userdb:\n%s", got)
	}
	ran := e.host.Ran()
	for _, want := range []string{"postmap hash:" + filepath.Join(mc.PostfixDir, "mailboxes"), "postfix reload", "doveadm reload"} {
		if !slices.Contains(ran, want) {
			t.Errorf("ran %q, want %q among them", ran, want)
		}
	}

	applyOK(t, e, testItem(21, model.KindEmailAddress, model.StatePendingInsert, info), model.StateActive)
	if got := read(filepath.Join(mc.PostfixDir, "aliases")); !strings.Contains(got, "\ninfo@example.org\trosa@mailbox.ferry.invalid\n") {
		t.Errorf("aliases:\n%s", got)
	}
	if got := read(filepath.Join(mc.PostfixDir, "domains")); !strings.Contains(got, "\nexample.org\tferry\n") {
		t.Errorf("domains:\n%s", got)
	}
	// Applied again: nothing changed, nothing rebuilt or reloaded.
	e.host.Ran()
	applyOK(t, e, testItem(21, model.KindEmailAddress, model.StatePendingUpdate, info), model.StateActive)
	if ran := e.host.Ran(); len(ran) != 0 {
		t.Errorf("a re-apply ran %q", ran)
	}

	// Disabled: the address is out of the maps, and so is its domain.
	applyOK(t, e, testItem(21, model.KindEmailAddress, model.StatePendingDisable, info), model.StateDisabled)
	if got := read(filepath.Join(mc.PostfixDir, "aliases")) + read(filepath.Join(mc.PostfixDir, "domains")); strings.Contains(got, "example.org") {
		t.Errorf("disabled address still in the maps:\n%s", got)
	}
	// A message in the mailbox, then the mailbox deleted: mail and entry gone.
	if err := os.WriteFile(filepath.Join(home, "Maildir", "new", "1.host"), []byte("Subject: x\n\nx\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	applyOK(t, e, testItem(20, model.KindMailbox, model.StatePendingDelete, mailbox), model.StateDeleted)
	if _, err := os.Stat(filepath.Join(home, "Maildir")); !os.IsNotExist(err) {
		t.Errorf("Maildir left behind: %v", err)
	}
	if got := read(mc.DovecotUsers); got != mailHeader {
		t.Errorf("userdb after delete:\n%s", got)
	}
	applyOK(t, e, testItem(21, model.KindEmailAddress, model.StatePendingDelete, info), model.StateDeleted)
	if files, _ := filepath.Glob(filepath.Join(mc.StateDir, "*")); len(files) != 0 {
		t.Errorf("mail state left behind: %v", files)
	}
}

// A mailbox whose account lives outside the order's directory would not
// move with the order: refused for good.
func TestMailboxOutsideTheOrder(t *testing.T) {
	e := newTestEnv(t)
	e.host.AddUser("rosa", "/home/rosa")
	res := applyOK(t, e, testItem(20, model.KindMailbox, model.StatePendingInsert, model.Spec{Login: "rosa"}), model.StateHardError)
	if !strings.Contains(res.Message, "not in order example.org's directory") {
		t.Errorf("message %q", res.Message)
	}
}

// A failed reload puts the entry back: the item is in soft-error, and the
// maps say what they said before.
func TestMailReloadFailsKeepsMaps(t *testing.T) {
	e := newTestEnv(t)
	e.a.cfg.Mail.PostfixReload = []string{"false"}
	e.host.Answers["false"] = hostexectest.Answer{Stderr: "postfix/postfix-script: fatal: the Postfix mail system is not running", Code: 1}
	res := applyOK(t, e, testItem(21, model.KindEmailAddress, model.StatePendingInsert, model.Spec{Address: "info@example.org", Forward: []string{"rosa@example.net"}}), model.StateSoftError)
	if !strings.Contains(res.Message, "reload postfix") {
		t.Errorf("message %q", res.Message)
	}
	if files, _ := filepath.Glob(filepath.Join(e.a.cfg.Mail.StateDir, "*.json")); len(files) != 0 {
		t.Errorf("entry kept after a failure: %v", files)
	}
	if b, _ := os.ReadFile(filepath.Join(e.a.cfg.Mail.PostfixDir, "aliases")); strings.Contains(string(b), "info@example.org") {
		t.Errorf("aliases after a failure:\n%s", b)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// A moved order's mail is held (its addresses leave the maps, its domains
// get the retry transport), then relayed to the new host with the queue
// flushed, and back to its own mailboxes on an abort; removing the order's
// directory removes the relay.
func TestOrderMailHoldRelayAndCleanup(t *testing.T) {
	e := newTestEnv(t)
	mc := e.a.cfg.Mail
	ctx := context.Background()
	applyOK(t, e, testItem(21, model.KindEmailAddress, model.StatePendingInsert, model.Spec{Address: "info@example.org", Forward: []string{"rosa@example.net"}}), model.StateActive)
	table := func(name string) string {
		b, err := os.ReadFile(filepath.Join(mc.PostfixDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	set := func(mode MailMode, to string) bool {
		t.Helper()
		var addr netip.Addr
		if to != "" {
			addr = netip.MustParseAddr(to)
		}
		e.a.Lock()
		defer e.a.Unlock()
		changed, err := e.a.SetOrderMail(ctx, testOrder, mode, addr)
		if err != nil {
			t.Fatal(err)
		}
		return changed
	}
	e.host.Ran()
	if !set(MailHold, "") {
		t.Error("hold changed nothing")
	}
	if got := table("transport"); !strings.Contains(got, "\nexample.org\tretry:4.3.2 ") {
		t.Errorf("transport while held:\n%s", got)
	}
	if strings.Contains(table("aliases"), "info@example.org") || strings.Contains(table("domains"), "example.org") {
		t.Errorf("a held order's address is still delivered:\n%s%s", table("aliases"), table("domains"))
	}
	if ran := e.host.Ran(); !slices.Contains(ran, "postqueue -f") || !slices.Contains(ran, "postfix reload") {
		t.Errorf("hold ran %q", ran)
	}
	set(MailRelay, "192.0.2.12")
	if got := table("transport"); !strings.Contains(got, "\nexample.org\tsmtp:[192.0.2.12]:25\n") {
		t.Errorf("transport while relayed:\n%s", got)
	}
	if got := table("relay"); !strings.Contains(got, "\nexample.org\tferry\n") {
		t.Errorf("relay domains:\n%s", got)
	}
	if !slices.Contains(e.host.Ran(), "postqueue -f") {
		t.Error("the queue was not flushed to the new host")
	}
	if set(MailRelay, "192.0.2.12") {
		t.Error("the same relay again changed something")
	}
	set(MailOwn, "")
	if got := table("transport") + table("relay"); strings.Contains(got, "example.org") {
		t.Errorf("relay left after an abort:\n%s", got)
	}
	if !strings.Contains(table("aliases"), "info@example.org\trosa@example.net") {
		t.Errorf("the address is not delivered again:\n%s", table("aliases"))
	}
	set(MailRelay, "192.0.2.12")
	if err := os.MkdirAll(e.a.OrderDir(testOrder), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := e.a.RemoveOrderDir(ctx, testOrder); err != nil {
		t.Fatal(err)
	}
	if got := table("transport") + table("relay") + table("aliases"); strings.Contains(got, "example.org") {
		t.Errorf("the order's mail is left in the maps after its directory went:\n%s", got)
	}
	if files, _ := filepath.Glob(filepath.Join(mc.StateDir, "*")); len(files) != 0 {
		t.Errorf("mail state left behind: %v", files)
	}
}
