package movetask

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"

	"ferry/internal/model"
	"ferry/internal/node/apply"
	"ferry/internal/node/dbengine"
)

// This file and the other move_*.go files are the node's side of a move
// (DESIGN.md, "The move" and "Host-to-host transport"). The old host makes a
// key pair for the move alone; the new host authorises it for one forced
// command, `ferry node receive`, from the old host's address only; the old
// host then pushes files (rsync) and tables (dump → load) over ssh with that
// key, compares both sides, switches its own vhost to maintenance or proxy,
// and at the end both hosts forget the key.
//
// What a production host needs for it (the lab has all of it):
//   - sshd lets root in by key: PermitRootLogin prohibit-password (Debian's
//     default) or, better, forced-commands-only; OpenSSH 7.2 or later for
//     the authorized_keys option "restrict".
//   - rsync on both hosts, 3.2.4 or later (arguments go over ssh quoted).
//   - MariaDB's client with --sandbox (10.5.25, 10.11.8 or later).
//   - PostgreSQL accepts password logins over TCP from the host itself
//     (Debian's pg_hba.conf does, for 127.0.0.1 and ::1), where a load logs
//     in as a temporary member of the database's owner.

// DefaultStateDir is where a node keeps its state (DNS data, move keys and
// receive policies) unless told otherwise.
const DefaultStateDir = "/var/lib/ferry-node"

// Config says where a node keeps move state and how it reaches the
// programs a move runs. Zero fields take Debian's defaults.
type Config struct {
	// Node is the item appliers' configuration: where order directories,
	// vhosts and the MariaDB socket are.
	Node apply.Config
	// StateDir holds moves/<id>/ with the move's key pair, known_hosts and
	// receive policy; DefaultStateDir when empty.
	StateDir string
	// Ferry is the ferry binary the forced command runs on the new host;
	// the running executable when empty.
	Ferry string
	// AuthorizedKeys is root's authorized_keys file, where move keys go.
	AuthorizedKeys string
	// HostKeyFile is this host's public ssh host key, handed to the old
	// host for its known_hosts.
	HostKeyFile string
	// RunAsPostgres prefixes commands that must run as the postgres user
	// (pg_dump, psql for checksums and temporary roles).
	RunAsPostgres []string
	// Streams is how many tables are copied at once; 3 when zero.
	Streams int
	// SSHPort is the new host's ssh port; 22 when zero.
	SSHPort int
	// Log receives what the tasks do; Node.Logger or slog.Default() when nil.
	Log *slog.Logger
}

func (c Config) withDefaults() Config {
	c.Node = c.Node.WithDefaults()
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	}
	if c.Ferry == "" {
		if exe, err := os.Executable(); err == nil {
			c.Ferry = exe
		}
	}
	if c.AuthorizedKeys == "" {
		c.AuthorizedKeys = "/root/.ssh/authorized_keys"
	}
	if c.HostKeyFile == "" {
		c.HostKeyFile = "/etc/ssh/ssh_host_ed25519_key.pub"
	}
	if len(c.RunAsPostgres) == 0 {
		c.RunAsPostgres = []string{"runuser", "-u", "postgres", "--"}
	}
	if c.Streams <= 0 {
		c.Streams = 3
	}
	if c.SSHPort == 0 {
		c.SSHPort = 22
	}
	if c.Log == nil {
		c.Log = c.Node.Logger
	}
	return c
}

// movePathRe is what a path must look like to be written into an ssh
// command line, the -e option of rsync or an authorized_keys forced
// command: each of these is split on blanks or read by a shell.
var movePathRe = regexp.MustCompile(`^/[A-Za-z0-9/._+-]*$`)

// checkMovePath refuses a path that cannot go into a command line as it is.
func checkMovePath(what, p string) error {
	if !movePathRe.MatchString(p) {
		return fmt.Errorf("%s %q: only letters, digits and / . _ + - can go into an ssh command line", what, p)
	}
	return nil
}

// mover runs the move tasks on one host.
type mover struct {
	cfg Config
	a   *apply.Applier
	log *slog.Logger

	trackMu  sync.Mutex
	trackers map[int64]*changeTracker // by move: what changed since its last sync
}

// dbHost is this host as its database engines see it: the appliers' runner
// and servers, with the move's way to run psql as postgres.
func (m *mover) dbHost() dbengine.Host {
	h := m.a.DatabaseHost()
	h.RunAsPostgres, h.Log = m.cfg.RunAsPostgres, m.log
	return h
}

func newMover(cfg Config) (*mover, error) {
	cfg = cfg.withDefaults()
	// The TLS directory goes into the forced command when it is not the
	// default (authorizedLine).
	for _, p := range []struct{ what, path string }{{"state directory", cfg.StateDir}, {"ferry binary", cfg.Ferry},
		{"TLS directory", cfg.Node.HTTPS.TLSDir}} {
		if p.path == "" && p.what == "TLS directory" {
			continue
		}
		if err := checkMovePath(p.what, p.path); err != nil {
			return nil, err
		}
	}
	return &mover{cfg: cfg, a: apply.New(cfg.Node), log: cfg.Log}, nil
}

// TaskFunc runs one move task for the agent (node.TaskFunc, the same
// type). progress sends an interim result and renews the task's lease.
type TaskFunc = func(ctx context.Context, t model.Task, progress func(any)) (any, error)

// Tasks returns the node's move tasks by kind, for AgentOptions.Tasks.
// A task whose configuration is unusable fails with the reason.
func Tasks(cfg Config) map[string]TaskFunc {
	m, err := newMover(cfg)
	wrap := func(f func(*mover, context.Context, model.MoveTaskPayload, func(any)) (any, error)) TaskFunc {
		return func(ctx context.Context, t model.Task, progress func(any)) (any, error) {
			if err != nil {
				return nil, err
			}
			p, perr := decodeMovePayload(t)
			if perr != nil {
				return nil, perr
			}
			return f(m, ctx, p, progress)
		}
	}
	return map[string]TaskFunc{
		model.TaskMoveKeygen:    wrap((*mover).keygen),
		model.TaskMoveAuthorize: wrap((*mover).authorize),
		model.TaskMoveSyncFiles: wrap((*mover).syncFiles),
		model.TaskMoveSyncDB:    wrap((*mover).syncDB),
		model.TaskMoveVerify:    wrap((*mover).verify),
		model.TaskMoveSiteMode:  wrap((*mover).siteMode),
		model.TaskMoveFreeze:    wrap((*mover).freeze),
		model.TaskMoveRevoke:    wrap((*mover).revoke),
	}
}

// Run runs one move task on this host outside the agent, with the
// payload as JSON: the entry point behind `ferry node task`.
func Run(ctx context.Context, cfg Config, kind string, payload []byte, progress func(any)) (any, error) {
	fn, ok := Tasks(cfg)[kind]
	if !ok {
		return nil, fmt.Errorf("unknown move task kind %q", kind)
	}
	var p struct {
		MoveID int64 `json:"move_id"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, fmt.Errorf("%s payload: %w", kind, err)
	}
	if progress == nil {
		progress = func(any) {}
	}
	return fn(ctx, model.Task{Kind: kind, MoveID: p.MoveID, Payload: payload}, progress)
}

// decodeMovePayload reads a task's payload and checks what every kind
// relies on: the move, and the order with its directory.
func decodeMovePayload(t model.Task) (model.MoveTaskPayload, error) {
	var p model.MoveTaskPayload
	if err := json.Unmarshal(t.Payload, &p); err != nil {
		return p, fmt.Errorf("%s payload: %w", t.Kind, err)
	}
	if p.MoveID <= 0 {
		return p, fmt.Errorf("%s payload: no move id", t.Kind)
	}
	if t.MoveID != 0 && t.MoveID != p.MoveID {
		return p, fmt.Errorf("%s payload: move %d in a task of move %d", t.Kind, p.MoveID, t.MoveID)
	}
	return p, nil
}

// moveDir is where this host keeps move id's key pair and policy.
func (m *mover) moveDir(id int64) string {
	return filepath.Join(m.cfg.StateDir, "moves", strconv.FormatInt(id, 10))
}

// checkOrder validates the payload's order and that OrderDir is where this
// host keeps it: the directory is what rsync writes into, so it is never
// taken on trust.
func (m *mover) checkOrder(p *model.MoveTaskPayload) error {
	if err := p.Order.Validate(); err != nil {
		return fmt.Errorf("move %d: order: %w", p.MoveID, err)
	}
	want := m.a.OrderDir(p.Order)
	if p.OrderDir == "" {
		p.OrderDir = want
	}
	if filepath.Clean(p.OrderDir) != want {
		return fmt.Errorf("move %d: order directory %q is not %s's directory on this host (%s)", p.MoveID, p.OrderDir, p.Order.Identifier, want)
	}
	p.OrderDir = want
	return checkMovePath("order directory", want)
}

// checkDatabases validates the payload's databases.
func checkDatabases(dbs []model.MoveDB) error {
	seen := map[string]bool{}
	for _, d := range dbs {
		eng, err := dbengine.New(d.Engine, dbengine.Host{})
		if err != nil {
			return fmt.Errorf("database %s: engine %q, want mysql or pgsql", d.Name, d.Engine)
		}
		if err := model.ValidateDatabaseName(d.Name); err != nil {
			return fmt.Errorf("database %q: %w", d.Name, err)
		}
		if err := eng.Check(d); err != nil {
			return err
		}
		if seen[d.Engine+"/"+d.Name] {
			return fmt.Errorf("database %s (%s) is listed twice", d.Name, d.Engine)
		}
		seen[d.Engine+"/"+d.Name] = true
	}
	return nil
}

// checkLogins validates the payload's logins.
func checkLogins(logins []string) error {
	for _, l := range logins {
		if err := model.ValidateLogin(l); err != nil {
			return fmt.Errorf("login %q: %w", l, err)
		}
	}
	return nil
}

// parseMoveAddr checks one of the payload's addresses.
func parseMoveAddr(what, s string) (netip.Addr, error) {
	a, err := model.ParseAddr(s)
	if err != nil {
		return a, fmt.Errorf("%s: %w", what, err)
	}
	return a, nil
}

// errMoveNoKey means the move's key pair is not on this host.
var errMoveNoKey = errors.New("this host has no key for the move (run move-keygen here first)")
