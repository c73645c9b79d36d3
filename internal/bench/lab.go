package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"ferry/internal/cli"
	"ferry/internal/client"
	"ferry/internal/lab"
	"ferry/internal/wire"
)

// benchLab is the benchmark's own lab: two web hosts, a control plane and
// their agents, on a subnet of its own.
type benchLab struct {
	lab   *lab.Lab
	log   *slog.Logger
	url   string
	token string
	admin *client.Client
}

// plainKey is root's own key on each web host, for the plain tools.
const plainKey = "/root/.ssh/ferry_bench_ed25519"

// startLab claims a free lab subnet, removes what a killed earlier run
// left in its directory, and brings the lab up. stop takes it down and
// releases the subnet; call it whatever happened.
func startLab(ctx context.Context, log *slog.Logger) (_ *benchLab, stop func() error, err error) {
	subnet, release, err := lab.ClaimTestSubnet()
	if err != nil {
		return nil, nil, err
	}
	var undo []func() error
	stop = func() error {
		var errs []error
		for i := len(undo) - 1; i >= 0; i-- {
			errs = append(errs, undo[i]())
		}
		release()
		return errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, stop())
		}
	}()
	// A directory under the test labs' base, named for its subnet: a test
	// binary that finds it left behind by a killed run removes it, as it
	// does its own.
	dir := filepath.Join(lab.TestBaseDir, fmt.Sprintf("bench%d", subnet))
	if err := lab.Down(ctx, dir); err != nil {
		return nil, stop, err
	}
	bin, cleanup, err := lab.BuildFerry(ctx)
	if err != nil {
		return nil, stop, err
	}
	undo = append(undo, func() error { cleanup(); return nil })
	log.Info("bringing the lab up", "dir", dir, "subnet", subnet)
	l, err := lab.Up(ctx, lab.Config{Dir: dir, Subnet: subnet, Web: 2, NoDNS: true, ControlPlane: true,
		Ferry: bin, Self: bin, DieWithParent: true, Logger: log})
	if err != nil {
		return nil, stop, err
	}
	undo = append(undo, func() error {
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		return l.Down(dctx)
	})
	st := l.State()
	if st.Control == nil {
		return nil, stop, errors.New("the lab runs no control plane")
	}
	tok, err := os.ReadFile(st.Control.AdminTokenPath)
	if err != nil {
		return nil, stop, err
	}
	b := &benchLab{lab: l, log: log, url: st.Control.URL, token: strings.TrimSpace(string(tok))}
	if b.admin, err = client.New(b.url, b.token, client.Options{}); err != nil {
		return nil, stop, err
	}
	if err := b.plainKeys(ctx); err != nil {
		return nil, stop, fmt.Errorf("root keys for the plain tools: %w", err)
	}
	return b, stop, nil
}

// plainKeys gives root on each web host a key that root on the other
// accepts, as an admin copying by hand would use.
func (b *benchLab) plainKeys(ctx context.Context) error {
	pubs := map[string]string{}
	for _, h := range []string{"web1", "web2"} {
		if _, err := b.lab.Run(ctx, h, "sh", "-c", "mkdir -p -m 700 /root/.ssh && rm -f "+plainKey+" "+plainKey+".pub && ssh-keygen -q -t ed25519 -N '' -C ferry-bench -f "+plainKey); err != nil {
			return err
		}
		pub, err := b.lab.Run(ctx, h, "cat", plainKey+".pub")
		if err != nil {
			return err
		}
		pubs[h] = pub
	}
	for h, other := range map[string]string{"web1": "web2", "web2": "web1"} {
		p, err := b.lab.Path(other, "/root/.ssh/authorized_keys")
		if err != nil {
			return err
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		_, werr := f.WriteString(pubs[h])
		if err := errors.Join(werr, f.Close()); err != nil {
			return err
		}
		// The first connection records the host key (accept-new).
		if _, err := b.lab.Run(ctx, h, b.ssh(other, "true")...); err != nil {
			return err
		}
	}
	return nil
}

// addr is a host's address.
func (b *benchLab) addr(host string) string {
	h, err := b.lab.Host(host)
	if err != nil {
		return ""
	}
	return h.Address
}

// sshCmd is the ssh command line the plain tools use from one web host to
// the other: root's own key, nothing else.
func (b *benchLab) sshCmd() string {
	return "ssh -i " + plainKey + " -o IdentitiesOnly=yes -o BatchMode=yes -l root"
}

// ssh is argv running remote on host to as root.
func (b *benchLab) ssh(to, remote string) []string {
	return append(strings.Fields(b.sshCmd()), b.addr(to), remote)
}

// timed runs argv on host and returns how long it took.
func (b *benchLab) timed(ctx context.Context, host string, argv ...string) (float64, error) {
	start := time.Now()
	_, err := b.lab.Run(ctx, host, argv...)
	return time.Since(start).Seconds(), err
}

// ferry runs the CLI in-process as the admin and returns its output; a
// non-zero exit is an error carrying what it printed.
func (b *benchLab) ferry(ctx context.Context, args ...string) (string, error) {
	var out, errb bytes.Buffer
	full := append([]string{"--server", b.url, "--token", b.token}, args...)
	if code := cli.Run(ctx, full, strings.NewReader(""), &out, &errb); code != 0 {
		return out.String(), fmt.Errorf("ferry %s: exit %d: %s%s", strings.Join(args, " "), code, tailOf(out.String(), 1500), tailOf(errb.String(), 1500))
	}
	return out.String(), nil
}

// timedFerry runs the CLI and returns its wall time.
func (b *benchLab) timedFerry(ctx context.Context, args ...string) (float64, error) {
	start := time.Now()
	_, err := b.ferry(ctx, args...)
	return time.Since(start).Seconds(), err
}

// moveStatus reads the order's latest move as `ferry move status --json`
// prints it.
func (b *benchLab) moveStatus(ctx context.Context, order string) (wire.MoveView, wire.MoveInfo, error) {
	out, err := b.ferry(ctx, "move", "status", order, "--json")
	if err != nil {
		return wire.MoveView{}, wire.MoveInfo{}, err
	}
	var v wire.MoveView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		return v, wire.MoveInfo{}, fmt.Errorf("move status --json: %w", err)
	}
	d, err := v.Info()
	return v, d, err
}

// owner returns login's uid and gid on host.
func (b *benchLab) owner(host, login string) (int, int, error) {
	p, err := b.lab.Path(host, "/etc/passwd")
	if err != nil {
		return 0, 0, err
	}
	f, err := os.Open(p)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Split(sc.Text(), ":")
		if len(fs) >= 4 && fs[0] == login {
			uid, err1 := strconv.Atoi(fs[2])
			gid, err2 := strconv.Atoi(fs[3])
			if err1 != nil || err2 != nil {
				return 0, 0, fmt.Errorf("%s's passwd line %q", login, sc.Text())
			}
			return uid, gid, nil
		}
	}
	return 0, 0, fmt.Errorf("no user %s on %s", login, host)
}

// flush writes dirty pages out, so that one tool's writes are not paid
// for during the next one's run.
func flush(ctx context.Context) {
	_ = exec.CommandContext(ctx, "sync").Run()
}

// tailOf is the end of s, at most n bytes.
func tailOf(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
