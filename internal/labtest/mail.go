package labtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// MailSender sends a numbered message to an order's addresses every half
// second, as a mail server elsewhere would: it looks the domain's MX up
// through dns1 each time, then the MX host's address, and hands the
// message to that host with swaks. A temporary refusal (4xx) is tried
// again, as a mail server retries; a permanent one is recorded.
type MailSender struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	accepted map[int]string // message number → the address that accepted it
	refused  []string       // permanent refusals
	retried  int
}

// StartMailSender starts sending to the addresses (all of domain) in turn.
func (e *Env) StartMailSender(domain string, to []string) *MailSender {
	ctx, cancel := context.WithCancel(context.Background())
	s := &MailSender{cancel: cancel, done: make(chan struct{}), accepted: map[int]string{}}
	dnsAddr := net.JoinHostPort(e.Addr("dns1"), "53")
	go func() {
		defer close(s.done)
		for n := 1; ; n++ {
			for {
				if ctx.Err() != nil {
					return
				}
				addr, out, err := sendMail(ctx, dnsAddr, domain, to[n%len(to)], n)
				if err == nil {
					s.mu.Lock()
					s.accepted[n] = addr
					s.mu.Unlock()
					break
				}
				s.mu.Lock()
				if strings.Contains(out, "<** 5") {
					s.refused = append(s.refused, fmt.Sprintf("msg-%d via %s: %s", n, addr, refusalLine(out)))
					s.mu.Unlock()
					break
				}
				s.retried++
				s.mu.Unlock()
				sleepCtx(ctx, 500*time.Millisecond)
			}
			sleepCtx(ctx, 500*time.Millisecond)
		}
	}()
	return s
}

// Accepted returns how many messages were accepted so far.
func (s *MailSender) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.accepted)
}

// Finish stops the sender and returns the accepted messages (number →
// the host address that accepted it), the permanent refusals, and how
// many temporary refusals were tried again.
func (s *MailSender) Finish() (accepted map[int]string, refused []string, retried int) {
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted, s.refused, s.retried
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// sendMail resolves domain's MX and the MX host's address through dns and
// sends message n to rcpt there.
func sendMail(ctx context.Context, dnsAddr, domain, rcpt string, n int) (addr, out string, err error) {
	mx, err := lookup(dnsAddr, domain, dns.TypeMX)
	if err != nil {
		return "", "", err
	}
	addr, err = lookup(dnsAddr, mx, dns.TypeA)
	if err != nil {
		return "", "", err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	b, err := exec.CommandContext(cctx, "swaks", "--server", addr, "--to", rcpt, "--from", "sender@outside.example",
		"--header", fmt.Sprintf("Subject: msg-%d", n), "--body", fmt.Sprintf("numbered message %d", n), "--timeout", "20").CombinedOutput()
	return addr, string(b), err
}

// lookup returns the first MX host or A address dns answers for name.
func lookup(dnsAddr, name string, qtype uint16) (string, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, dnsAddr)
	if err != nil {
		return "", err
	}
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *dns.MX:
			return strings.TrimSuffix(v.Mx, "."), nil
		case *dns.A:
			return v.A.String(), nil
		}
	}
	return "", fmt.Errorf("no %s record for %s", dns.TypeToString[qtype], name)
}

// refusalLine is the server's refusal in swaks's output.
func refusalLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "<** ") {
			return strings.TrimSpace(l)
		}
	}
	return strings.TrimSpace(out)
}

// IMAPMailbox is what an IMAP client sees of a mailbox: its UIDVALIDITY,
// and each message's subject with its UID and flags.
type IMAPMailbox struct {
	UIDValidity string
	Messages    []IMAPMessage
}

// IMAPMessage is one message as UID FETCH shows it.
type IMAPMessage struct {
	UID     int
	Flags   string
	Subject string
}

var (
	uidValidityRe = regexp.MustCompile(`\[UIDVALIDITY (\d+)\]`)
	fetchRe       = regexp.MustCompile(`^\* \d+ FETCH \(UID (\d+) FLAGS \(([^)]*)\) BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{(\d+)\}`)
)

// IMAPInbox logs in to addr's IMAP server as login and reads the INBOX,
// as a mail client does, without changing it (EXAMINE, BODY.PEEK).
func IMAPInbox(addr, login, password string) (IMAPMailbox, error) {
	var mb IMAPMailbox
	c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, "143"), 5*time.Second)
	if err != nil {
		return mb, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	if _, err := r.ReadString('\n'); err != nil {
		return mb, err
	}
	cmd := func(tag, line string, each func(string) error) error {
		if _, err := fmt.Fprintf(c, "%s %s\r\n", tag, line); err != nil {
			return err
		}
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			if strings.HasPrefix(l, tag+" ") {
				if !strings.HasPrefix(l, tag+" OK") {
					return fmt.Errorf("imap %s: %s", strings.Fields(line)[0], strings.TrimSpace(l))
				}
				return nil
			}
			if each != nil {
				if err := each(l); err != nil {
					return err
				}
			}
		}
	}
	if err := cmd("a", fmt.Sprintf("LOGIN %s %s", login, password), nil); err != nil {
		return mb, err
	}
	if err := cmd("b", "EXAMINE INBOX", func(l string) error {
		if m := uidValidityRe.FindStringSubmatch(l); m != nil {
			mb.UIDValidity = m[1]
		}
		return nil
	}); err != nil {
		return mb, err
	}
	err = cmd("c", "UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])", func(l string) error {
		m := fetchRe.FindStringSubmatch(l)
		if m == nil {
			return nil
		}
		uid, _ := strconv.Atoi(m[1])
		size, _ := strconv.Atoi(m[3])
		buf := make([]byte, size)
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		subject := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(buf)), "Subject:"))
		mb.Messages = append(mb.Messages, IMAPMessage{UID: uid, Flags: m[2], Subject: subject})
		return nil
	})
	if err != nil {
		return mb, err
	}
	_ = cmd("d", "LOGOUT", nil)
	return mb, nil
}
