package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"ferry/internal/model"
)

// ErrReceiveRefused marks a command the forced command does not allow.
var ErrReceiveRefused = errors.New("refused")

// receiveRefused returns a refusal that says why.
func receiveRefused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrReceiveRefused, fmt.Sprintf(format, args...))
}

// What the old host may ask of the forced command.
const (
	receiveRsync   = "rsync"         // rsync --server … . <dir>: files into the order directory
	receiveLoad    = "ferry-load"    // ferry-load ENGINE DB: SQL on stdin into one database
	receiveSums    = "ferry-sums"    // ferry-sums ENGINE DB: every table's row count and checksum
	receiveCrontab = "ferry-crontab" // ferry-crontab LOGIN: the login's own crontab lines on stdin
	receiveObjects = "ferry-objects" // ferry-objects mysql DB: views, triggers, routines, events as JSON on stdin
	receiveSparse  = "ferry-sparse"  // ferry-sparse: the order directory's sparse files, as JSON
)

// receiveRequest is a command the policy allows.
type receiveRequest struct {
	Kind string
	// Rsync is rsync's server argv after "rsync", checked option by
	// option and ending in the cleaned destination.
	Rsync  []string
	Dest   string
	DryRun bool
	DB     model.MoveDB
	Login  string
}

// maxReceiveCommand bounds the command line the forced command reads.
const maxReceiveCommand = 4096

// parseReceive checks command (the client's SSH_ORIGINAL_COMMAND) against
// the move's policy and returns what it asks for, or a refusal. Only these
// pass: rsync's receiving server into the order directory, a load into one
// of the move's databases, the checksums or the objects of one of them,
// the list of the order directory's sparse files, and the
// crontab lines of one of the order's logins.
func parseReceive(command string, pol movePolicy) (receiveRequest, error) {
	if command == "" {
		return receiveRequest{}, receiveRefused("no command: this key only runs the move's transfers")
	}
	if len(command) > maxReceiveCommand {
		return receiveRequest{}, receiveRefused("command longer than %d bytes", maxReceiveCommand)
	}
	words, err := splitCommandWords(command)
	if err != nil {
		return receiveRequest{}, receiveRefused("%v", err)
	}
	if len(words) == 0 {
		return receiveRequest{}, receiveRefused("no command: this key only runs the move's transfers")
	}
	switch words[0] {
	case receiveRsync:
		return parseRsyncServer(words[1:], pol)
	case receiveLoad, receiveSums, receiveObjects:
		if len(words) != 3 {
			return receiveRequest{}, receiveRefused("usage: %s mysql|pgsql DATABASE", words[0])
		}
		engine, name := words[1], words[2]
		if _, ok := dbEngines[engine]; !ok {
			return receiveRequest{}, receiveRefused("engine %q: want mysql or pgsql", engine)
		}
		if model.ValidateDatabaseName(name) != nil {
			return receiveRequest{}, receiveRefused("%q is not a database name", name)
		}
		db, ok := pol.database(engine, name)
		if !ok {
			return receiveRequest{}, receiveRefused("database %s (%s) is not one of move %d's databases", name, engine, pol.MoveID)
		}
		return receiveRequest{Kind: words[0], DB: db}, nil
	case receiveSparse:
		if len(words) != 1 {
			return receiveRequest{}, receiveRefused("usage: %s", receiveSparse)
		}
		return receiveRequest{Kind: receiveSparse}, nil
	case receiveCrontab:
		if len(words) != 2 {
			return receiveRequest{}, receiveRefused("usage: %s LOGIN", receiveCrontab)
		}
		login := words[1]
		if model.ValidateLogin(login) != nil || !containsString(pol.Logins, login) {
			return receiveRequest{}, receiveRefused("login %q is not one of move %d's logins", login, pol.MoveID)
		}
		return receiveRequest{Kind: receiveCrontab, Login: login}, nil
	}
	return receiveRequest{}, receiveRefused("%q: this key only runs rsync into the order directory, %s, %s, %s, %s and %s",
		oneLine(words[0], 80), receiveLoad, receiveSums, receiveObjects, receiveSparse, receiveCrontab)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// rsyncServerShort are the one-letter options rsync's client sends to a
// receiving server for ferry's transfers (-rlptgoHAXS, -n for a dry run):
// links, hard links, owner, group, times, perms, ACLs, xattrs, recursion,
// sparse files, dry run, verbosity. Not D: a move never makes device files
// (FIFOs and sockets come with --specials). 'e' ends the
// cluster with the client's protocol capabilities.
const rsyncServerShort = "lHogtpAXrSnv"

var (
	rsyncCapsRe   = regexp.MustCompile(`^[A-Za-z.]*$`)
	rsyncNumberRe = regexp.MustCompile(`^[0-9]{1,9}$`)
	rsyncInfoRe   = regexp.MustCompile(`^[A-Za-z0-9,]{1,100}$`)
)

// rsyncServerLong checks the long options rsync's client sends for ferry's
// transfers; each returns whether the value is fine.
var rsyncServerLong = map[string]func(v string, hasValue bool) bool{
	"--delete":     noValue,
	"--specials":   noValue,
	"--stats":      noValue,
	"--partial":    noValue,
	"--timeout":    func(v string, ok bool) bool { return ok && rsyncNumberRe.MatchString(v) },
	"--bwlimit":    func(v string, ok bool) bool { return ok && rsyncNumberRe.MatchString(v) },
	"--log-format": func(v string, ok bool) bool { return ok && (v == "%i" || v == "X") },
	"--info":       func(v string, ok bool) bool { return ok && rsyncInfoRe.MatchString(v) },
}

func noValue(_ string, hasValue bool) bool { return !hasValue }

// rsyncServerChmod is added to every receiving server: no set-user-ID or
// set-group-ID file arrives on the new host, whoever owns it (directories
// keep their set-group-ID bit, which web/ uses).
const rsyncServerChmod = "--chmod=Fu-s,Fg-s"

// parseRsyncServer checks the arguments after "rsync" of a receiving server.
func parseRsyncServer(args []string, pol movePolicy) (receiveRequest, error) {
	if len(args) == 0 || args[0] != "--server" {
		return receiveRequest{}, receiveRefused("rsync runs here only as a server (rsync --server …)")
	}
	req := receiveRequest{Kind: receiveRsync, Rsync: []string{"--server"}}
	i := 1
	sawShort := false
	for ; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			break
		}
		switch {
		case a == "--sender":
			return receiveRequest{}, receiveRefused("rsync --sender: nothing is read out of this host")
		case a == "--numeric-ids":
			return receiveRequest{}, receiveRefused("rsync --numeric-ids: owners map by name between hosts")
		case strings.HasPrefix(a, "--"):
			name, value, hasValue := strings.Cut(a, "=")
			check, ok := rsyncServerLong[name]
			if !ok {
				return receiveRequest{}, receiveRefused("rsync option %s is not allowed", oneLine(name, 60))
			}
			if !check(value, hasValue) {
				return receiveRequest{}, receiveRefused("rsync option %s: value not allowed", oneLine(a, 80))
			}
		default:
			if sawShort {
				return receiveRequest{}, receiveRefused("rsync: a second cluster of one-letter options")
			}
			sawShort = true
			flags := a[1:]
			for j, c := range flags {
				if c == 'e' {
					if !rsyncCapsRe.MatchString(flags[j+1:]) {
						return receiveRequest{}, receiveRefused("rsync: protocol capabilities %q", oneLine(flags[j+1:], 40))
					}
					break
				}
				if !strings.ContainsRune(rsyncServerShort, c) {
					return receiveRequest{}, receiveRefused("rsync option -%c is not allowed", c)
				}
				if c == 'n' {
					req.DryRun = true
				}
			}
		}
		req.Rsync = append(req.Rsync, a)
	}
	if !sawShort {
		return receiveRequest{}, receiveRefused("rsync: no transfer options")
	}
	rest := args[i:]
	if len(rest) != 2 || rest[0] != "." {
		return receiveRequest{}, receiveRefused("rsync: want the arguments \". DESTINATION\", got %d", len(rest))
	}
	dest, err := receiveDest(rest[1], pol.OrderDir)
	if err != nil {
		return receiveRequest{}, err
	}
	req.Dest = dest
	req.Rsync = append(req.Rsync, rsyncServerChmod, ".", dest)
	return req, nil
}

// receiveDest checks rsync's destination: the order directory or a
// directory inside it, absolute, without "..". It returns it cleaned, with
// the trailing slash it had.
func receiveDest(dest, orderDir string) (string, error) {
	if !strings.HasPrefix(dest, "/") {
		return "", receiveRefused("rsync destination %q: must be an absolute path inside %s", oneLine(dest, 200), orderDir)
	}
	for _, part := range strings.Split(dest, "/") {
		if part == ".." {
			return "", receiveRefused("rsync destination %q: \"..\" is not allowed", oneLine(dest, 200))
		}
	}
	c := path.Clean(dest)
	if c != orderDir && !strings.HasPrefix(c, orderDir+"/") {
		return "", receiveRefused("rsync destination %s: outside the order directory %s", oneLine(c, 200), orderDir)
	}
	if strings.HasSuffix(dest, "/") {
		c += "/"
	}
	return c, nil
}

// splitCommandWords splits a command line the way a POSIX shell splits
// words (blanks, backslash, single and double quotes) and refuses what a
// shell would expand or act on: no shell ever reads it, and what would
// mean more to a shell than to ferry is better refused than guessed.
func splitCommandWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	const (
		plain = iota
		single
		double
	)
	state := plain
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != ' ' && c != '\t' || c == 0x7f {
			return nil, fmt.Errorf("control character %q in the command", c)
		}
		switch state {
		case single:
			if c == '\'' {
				state = plain
			} else {
				cur.WriteByte(c)
			}
			continue
		case double:
			switch c {
			case '"':
				state = plain
			case '$', '`':
				return nil, fmt.Errorf("%q in the command: nothing is expanded here", c)
			case '\\':
				if i+1 < len(s) && strings.IndexByte("\\\"$`", s[i+1]) >= 0 {
					i++
					cur.WriteByte(s[i])
				} else {
					cur.WriteByte(c)
				}
			default:
				cur.WriteByte(c)
			}
			continue
		}
		switch c {
		case ' ', '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
			continue
		case '\'':
			state = single
		case '"':
			state = double
		case '\\':
			if i+1 >= len(s) {
				return nil, errors.New("the command ends in a backslash")
			}
			i++
			if s[i] < 0x20 || s[i] == 0x7f {
				return nil, fmt.Errorf("control character %q in the command", s[i])
			}
			cur.WriteByte(s[i])
		case ';', '&', '|', '<', '>', '(', ')', '$', '`', '*', '?', '[', ']', '{', '}', '~', '#', '!':
			return nil, fmt.Errorf("%q in the command: only plain words are accepted", c)
		default:
			cur.WriteByte(c)
		}
		inWord = true
	}
	if state != plain {
		return nil, errors.New("unterminated quote in the command")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// ReceiveOptions are the streams and environment of one forced command.
type ReceiveOptions struct {
	MoveID int64
	// Command is SSH_ORIGINAL_COMMAND; Client is SSH_CLIENT, whose first
	// field is the caller's address.
	Command string
	Client  string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
}

// Receive runs the forced command of a move's key on the new host: it reads
// the move's policy, checks the command the old host asked for, and runs it
// with the ssh channel as its input and output. A refusal wraps
// ErrReceiveRefused.
func Receive(ctx context.Context, cfg MoveConfig, o ReceiveOptions) error {
	m, err := newMover(cfg)
	if err != nil {
		return err
	}
	pol, err := readMovePolicy(m.cfg.StateDir, o.MoveID)
	if err != nil {
		return receiveRefused("%v", err)
	}
	if err := checkReceiveClient(o.Client, pol.FromAddr); err != nil {
		return err
	}
	req, err := parseReceive(o.Command, pol)
	if err != nil {
		return err
	}
	switch req.Kind {
	case receiveRsync:
		return m.receiveRsync(ctx, req, pol, o)
	case receiveLoad:
		return m.receiveLoad(ctx, o.MoveID, req.DB, o)
	case receiveSums:
		// The old host may name the tables it wants (a JSON list on
		// stdin); without one, every table.
		only, err := readTableList(o.Stdin)
		if err != nil {
			return err
		}
		sums, err := m.tableSums(ctx, req.DB, only)
		if err != nil {
			return err
		}
		if sums == nil {
			sums = []model.TableSum{}
		}
		return json.NewEncoder(o.Stdout).Encode(sums)
	case receiveCrontab:
		return m.receiveCrontab(ctx, req.Login, o.Stdin)
	case receiveObjects:
		return m.receiveObjects(ctx, req.DB, o.Stdin, o.Stdout)
	case receiveSparse:
		if err := checkNoSymlinkBelow(pol.OrderDir, pol.OrderDir); err != nil {
			return err
		}
		return json.NewEncoder(o.Stdout).Encode(sparseFiles(pol.OrderDir, 0))
	}
	return receiveRefused("nothing to do")
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
		return receiveRefused("connection from %s, not from the old host %s", oneLine(f[0], 60), from)
	}
	return nil
}

// receiveRsync runs rsync's receiving server with the checked arguments.
func (m *mover) receiveRsync(ctx context.Context, req receiveRequest, pol movePolicy, o ReceiveOptions) error {
	if err := checkNoSymlinkBelow(pol.OrderDir, req.Dest); err != nil {
		return err
	}
	bin, err := exec.LookPath("rsync")
	if err != nil {
		return fmt.Errorf("rsync is not installed on this host: %w", err)
	}
	// rsync's server runs in the environment sshd gave the forced command.
	wait, err := m.a.runner.start(ctx, streamCmd{argv: append([]string{"rsync"}, req.Rsync...), path: bin, env: os.Environ(),
		stdin: o.Stdin, stdout: o.Stdout, stderr: o.Stderr})
	if err != nil {
		return err
	}
	return wait()
}

// checkNoSymlinkBelow refuses a destination reached through a symlink below
// the order directory, or an order directory that is a symlink: rsync
// would follow it out of the order directory.
func checkNoSymlinkBelow(orderDir, dest string) error {
	rel, err := filepath.Rel(orderDir, filepath.Clean(dest))
	if err != nil || strings.HasPrefix(rel, "..") {
		return receiveRefused("rsync destination %s: outside the order directory", dest)
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
			return receiveRefused("rsync destination %s: %s is a symlink", dest, p)
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
		return nil, receiveRefused("ferry-sums: stdin is not a JSON list of table names: %v", err)
	}
	return only, nil
}
