package receive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"ferry/internal/model"
)

// ErrRefused marks a command the forced command does not allow.
var ErrRefused = errors.New("refused")

// Refused returns a refusal that says why; it wraps ErrRefused.
func Refused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}

// Policy is what the forced command lets the old host do on the new host
// during one move. move-authorize writes it; Run reads it through Host.
type Policy struct {
	MoveID    int64          `json:"move_id"`
	Order     string         `json:"order"`
	OrderDir  string         `json:"order_dir"`
	FromAddr  string         `json:"from_addr"`
	Databases []model.MoveDB `json:"databases"`
	Logins    []string       `json:"logins"`
}

// Database returns the policy's database of engine called name.
func (p Policy) Database(engine, name string) (model.MoveDB, bool) {
	for _, d := range p.Databases {
		if d.Engine == engine && d.Name == name {
			return d, true
		}
	}
	return model.MoveDB{}, false
}

// Options are the streams and environment of one forced command.
type Options struct {
	MoveID int64
	// Command is SSH_ORIGINAL_COMMAND; Client is SSH_CLIENT, whose first
	// field is the caller's address.
	Command string
	Client  string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
}

// Host is the new host as the forced command uses it: where the move's
// policy is kept and what runs a command once it has passed. The node
// agent implements it with its runner and database engines.
type Host interface {
	// Policy reads the receive policy of move id.
	Policy(id int64) (Policy, error)
	// Engine reports whether engine ("mysql", "pgsql") is one a move
	// copies.
	Engine(engine string) bool
	// Rsync runs rsync's receiving server as argv on o's streams.
	Rsync(ctx context.Context, argv []string, o Options) error
	// Load loads o.Stdin into db.
	Load(ctx context.Context, db model.MoveDB, o Options) error
	// Sums returns db's tables (those in only, when not nil) with their
	// row counts and checksums.
	Sums(ctx context.Context, db model.MoveDB, only []string) ([]model.TableSum, error)
	// Stamps returns what db's tables say of their last write without
	// reading a row (the old host's re-sync knows from them which tables
	// it need not sum), as JSON.
	Stamps(ctx context.Context, db model.MoveDB) (any, error)
	// Rows writes the row list (primary keys and row hashes) of the
	// table of db named on stdin.
	Rows(ctx context.Context, db model.MoveDB, stdin io.Reader, stdout io.Writer) error
	// Objects makes and drops the objects of db sent on stdin.
	Objects(ctx context.Context, db model.MoveDB, stdin io.Reader, stdout io.Writer) error
	// Crontab installs the crontab lines of login sent on stdin.
	Crontab(ctx context.Context, login string, stdin io.Reader) error
	// SparseFiles lists the sparse files below dir.
	SparseFiles(dir string) map[string][2]int64
	// Mailboxes reads the mailboxes of the accounts whose homes are in
	// the order directory orderDir (their folders, UIDVALIDITY and
	// message UIDs), as JSON.
	Mailboxes(orderDir string) (any, error)
	// TLS installs the carried chain and key of order's ACME site whose
	// first server name is site, checked against the host's own copy of
	// the site, and serves the site with them; a site that is not one of
	// order's is refused there.
	TLS(ctx context.Context, order, site string, chain, key []byte) error
}

// Run is the forced command of a move's key on the new host: it reads the
// move's policy, checks the command the old host asked for, and runs it
// on h with the ssh channel as its input and output. A refusal wraps
// ErrRefused.
func Run(ctx context.Context, h Host, o Options) error {
	pol, err := h.Policy(o.MoveID)
	if err != nil {
		return Refused("%v", err)
	}
	if err := checkReceiveClient(o.Client, pol.FromAddr); err != nil {
		return err
	}
	req, err := parse(o.Command, pol, h.Engine)
	if err != nil {
		return err
	}
	switch req.Kind {
	case CmdRsync:
		if err := checkNoSymlinkBelow(pol.OrderDir, req.Dest); err != nil {
			return err
		}
		return h.Rsync(ctx, append([]string{"rsync"}, req.Rsync...), o)
	case CmdLoad:
		return h.Load(ctx, req.DB, o)
	case CmdSums:
		// The old host may name the tables it wants (a JSON list on
		// stdin); without one, every table.
		only, err := readTableList(o.Stdin)
		if err != nil {
			return err
		}
		sums, err := h.Sums(ctx, req.DB, only)
		if err != nil {
			return err
		}
		if sums == nil {
			sums = []model.TableSum{}
		}
		return json.NewEncoder(o.Stdout).Encode(sums)
	case CmdStamps:
		st, err := h.Stamps(ctx, req.DB)
		if err != nil {
			return err
		}
		return json.NewEncoder(o.Stdout).Encode(st)
	case CmdCrontab:
		return h.Crontab(ctx, req.Login, o.Stdin)
	case CmdObjects:
		return h.Objects(ctx, req.DB, o.Stdin, o.Stdout)
	case CmdRows:
		return h.Rows(ctx, req.DB, o.Stdin, o.Stdout)
	case CmdSparse:
		if err := checkNoSymlinkBelow(pol.OrderDir, pol.OrderDir); err != nil {
			return err
		}
		return json.NewEncoder(o.Stdout).Encode(h.SparseFiles(pol.OrderDir))
	case CmdMailboxes:
		if err := checkNoSymlinkBelow(pol.OrderDir, pol.OrderDir); err != nil {
			return err
		}
		folders, err := h.Mailboxes(pol.OrderDir)
		if err != nil {
			return err
		}
		return json.NewEncoder(o.Stdout).Encode(folders)
	case CmdTLS:
		chain, key, err := readTLSBundle(o.Stdin)
		if err != nil {
			return err
		}
		return h.TLS(ctx, pol.Order, req.Site, chain, key)
	}
	return Refused("nothing to do")
}

// checkReceiveClient refuses a caller whose address is not the old host's;
// sshd's from= said so already, this says it again.
func checkReceiveClient(client, from string) error {
	f := strings.Fields(client)
	if len(f) == 0 {
		return nil
	}
	got, err1 := netip.ParseAddr(f[0])
	want, err2 := netip.ParseAddr(from)
	if err1 != nil || err2 != nil || got.Unmap() != want.Unmap() {
		return Refused("connection from %s, not from the old host %s", clip(f[0], 60), from)
	}
	return nil
}

// checkNoSymlinkBelow refuses a destination reached through a symlink below
// the order directory, or an order directory that is a symlink: rsync
// would follow it out of the order directory.
func checkNoSymlinkBelow(orderDir, dest string) error {
	rel, err := filepath.Rel(orderDir, filepath.Clean(dest))
	if err != nil || strings.HasPrefix(rel, "..") {
		return Refused("rsync destination %s: outside the order directory", dest)
	}
	p := orderDir
	parts := []string{}
	if rel != "." {
		parts = strings.Split(rel, "/")
	}
	for i := 0; ; i++ {
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // rsync makes the rest
		}
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return Refused("rsync destination %s: %s is a symlink", dest, p)
		}
		if i == len(parts) {
			return nil
		}
		p = filepath.Join(p, parts[i])
	}
}

// readTableList reads the JSON list of table names a ferry-sums may be
// sent, or nil when stdin is empty.
func readTableList(stdin io.Reader) ([]string, error) {
	if stdin == nil {
		return nil, nil
	}
	data, err := io.ReadAll(io.LimitReader(stdin, 16<<20))
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, nil
	}
	only := []string{}
	if err := json.Unmarshal(data, &only); err != nil {
		return nil, Refused("ferry-sums: stdin is not a JSON list of table names: %v", err)
	}
	return only, nil
}

// clip cuts s, trimmed, to at most max bytes, so that what the old host
// sent is quoted short in a refusal. What it is given holds no line
// breaks: the command's words cannot (splitCommandWords refuses control
// characters), nor can a field of SSH_CLIENT.
func clip(s string, max int) string {
	s = strings.TrimSpace(s)
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + " …"
	}
	return s
}
