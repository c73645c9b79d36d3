//go:build lab

package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"ferry/internal/labtest"
	"ferry/internal/model"
)

// A mail server elsewhere sends a numbered message every half second to an
// order's addresses through the whole move, finding the host by the MX
// record in ferry's DNS each time. Afterwards every message that was
// accepted is in the mailbox on web2 exactly once, an IMAP client sees the
// same UIDVALIDITY and the same UIDs and flags for the messages from
// before the move, and web1 holds nothing of the order.
func TestLabMailMovesWithTheOrder(t *testing.T) {
	e := labtest.New(t)
	const domain, login, password = "post.example", "post", "post-pass-1234"
	e.Ferry("", "member", "add", "post")
	e.Ferry("", "order", "add", domain, "--member", "post", "--host", "web1")
	e.Ferry(password+"\n", "item", "add", domain, "user-account", "--login", login, "--password-file", "-")
	e.Ferry("", "item", "add", domain, "mailbox", "--login", login, "--quota-mb", "100")
	e.Ferry("", "item", "add", domain, "email-address", "--address", "info@"+domain, "--login", login)
	e.Ferry("", "item", "add", domain, "email-address", "--address", "sales@"+domain, "--forward", "info@"+domain)
	e.Ferry("", "item", "add", domain, "dns", "--type", "MX", "--value", "10 mail."+domain, "--ttl", "3600")
	e.Ferry("", "item", "add", domain, "dns", "--fqdn", "mail."+domain, "--type", "A", "--value", e.Addr("web1"), "--ttl", "3600")
	for _, it := range e.WaitItems(domain, 60*time.Second) {
		if it.State != model.StateActive {
			t.Fatalf("items not all active:\n%s", labtest.Describe(e.WaitItems(domain, time.Second)))
		}
	}
	dir := model.OrderDir("post", domain)

	s := e.StartMailSender(domain, []string{"info@" + domain, "sales@" + domain})
	stopped := false
	defer func() {
		if !stopped {
			s.Finish()
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for s.Accepted() < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("web1 accepted %d messages in a minute", s.Accepted())
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A client read the first two: their \Seen flag must move too.
	e.MustOn("web1", "doveadm", "flags", "add", "-u", login, `\Seen`, "mailbox", "INBOX", "uid", "1:2")
	before, err := labtest.IMAPInbox(e.Addr("web1"), login, password)
	if err != nil || len(before.Messages) < 2 || before.UIDValidity == "" {
		t.Fatalf("IMAP on web1 before the move: %+v %v", before, err)
	}

	e.Ferry("", "move", "start", domain, "--to", "web2")
	e.Ferry("", "move", "sync", domain)
	// Verify reads the UIDs on both hosts: a uid list that says another
	// UIDVALIDITY on web2 (every client would download the folder again)
	// fails it, naming the folder; a sync carries web1's list again.
	uidlist := dir + "/users/" + login + "/Maildir/dovecot-uidlist"
	e.MustOn("web2", "sed", "-i", "1s/ V[0-9]*/ V12345/", uidlist)
	out, _, code := e.FerryCode("", "move", "verify", domain)
	if code == 0 || !strings.Contains(out, "mailbox of post, folder INBOX: UIDVALIDITY") || !strings.Contains(out, "12345 on the new") {
		t.Errorf("verify with another UIDVALIDITY on web2: exit %d\n%s", code, out)
	}
	e.Ferry("", "move", "sync", domain)
	ver := e.Ferry("", "move", "verify", domain)
	if !strings.Contains(ver, "MAILBOX FOLDER") || !strings.Contains(ver, "post/INBOX") {
		t.Errorf("verify does not show the mailbox's folders:\n%s", ver)
	}
	cut := e.Ferry("", "move", "cutover", domain, "--skip-ttl-wait")
	t.Logf("cutover:\n%s", cut)
	if !strings.Contains(cut, "mailboxes the same on both hosts after the final sync, UID for UID: post/INBOX") {
		t.Errorf("the cutover does not say the freeze compared the mailboxes:\n%s", cut)
	}
	time.Sleep(3 * time.Second) // the sender goes on through web1's relay and the new MX
	e.Ferry("", "move", "cleanup", domain, "--skip-ttl-wait")
	time.Sleep(2 * time.Second)
	accepted, refused, retried := s.Finish()
	stopped = true
	byHost := map[string]int{}
	for _, a := range accepted {
		byHost[a]++
	}
	t.Logf("sender: %d messages accepted (by address %v), %d temporary refusals tried again", len(accepted), byHost, retried)
	if len(refused) > 0 {
		t.Errorf("messages refused for good (a sender would bounce them):\n%s", strings.Join(refused, "\n"))
	}
	if byHost[e.Addr("web1")] == 0 || byHost[e.Addr("web2")] == 0 {
		t.Errorf("messages were not accepted by both hosts (%v): the test did not span the switch", byHost)
	}

	// Every accepted message is on web2, once; web2 got what web1 held.
	var after labtest.IMAPMailbox
	deadline = time.Now().Add(90 * time.Second)
	for {
		after, err = labtest.IMAPInbox(e.Addr("web2"), login, password)
		count := map[string]int{}
		for _, m := range after.Messages {
			count[m.Subject]++
		}
		var missing, twice []string
		for n := range accepted {
			switch c := count[fmt.Sprintf("msg-%d", n)]; {
			case c == 0:
				missing = append(missing, fmt.Sprint(n))
			case c > 1:
				twice = append(twice, fmt.Sprint(n))
			}
		}
		sort.Strings(missing)
		if err == nil && len(missing) == 0 {
			if len(twice) > 0 {
				t.Errorf("messages delivered more than once: %v", twice)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("web2's mailbox lacks accepted messages %v (IMAP: %v)", missing, err)
		}
		time.Sleep(time.Second)
	}
	if after.UIDValidity != before.UIDValidity {
		t.Errorf("UIDVALIDITY on web2 %s, on web1 before the move %s: clients would fetch everything again", after.UIDValidity, before.UIDValidity)
	}
	now := map[string]labtest.IMAPMessage{}
	for _, m := range after.Messages {
		now[m.Subject] = m
	}
	for _, m := range before.Messages {
		got := now[m.Subject]
		if got.UID != m.UID || !sameFlags(got.Flags, m.Flags) {
			t.Errorf("%s: UID %d flags %q on web2, UID %d flags %q on web1 before the move", m.Subject, got.UID, got.Flags, m.UID, m.Flags)
		}
	}
	e.WaitNothingOn("web1", login, "", dir)
	if out, _ := e.On("web1", "postmap", "-q", domain, "hash:/etc/postfix/ferry/transport"); strings.TrimSpace(out) != "" {
		t.Errorf("web1 still relays %s: %s", domain, out)
	}
}

// sameFlags compares IMAP flag lists, leaving out \Recent (a session's,
// not the message's).
func sameFlags(a, b string) bool {
	clean := func(s string) string {
		var out []string
		for _, f := range strings.Fields(s) {
			if f != `\Recent` {
				out = append(out, f)
			}
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	return clean(a) == clean(b)
}
