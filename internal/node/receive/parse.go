package receive

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"ferry/internal/model"
)

// The commands the old host may ask of the forced command; the old host
// side of a move builds its remote commands from them.
const (
	CmdRsync   = "rsync"         // rsync --server … . <dir>: files into the order directory
	CmdLoad    = "ferry-load"    // ferry-load ENGINE DB: SQL on stdin into one database
	CmdSums    = "ferry-sums"    // ferry-sums ENGINE DB: every table's row count and checksum
	CmdStamps  = "ferry-stamps"  // ferry-stamps ENGINE DB: every table's last-write time and definition hash, no rows read
	CmdCrontab = "ferry-crontab" // ferry-crontab LOGIN: the login's own crontab lines on stdin
	CmdObjects = "ferry-objects" // ferry-objects mysql DB: views, triggers, routines, events as JSON on stdin
	CmdRows    = "ferry-rows"    // ferry-rows mysql DB: one table's primary keys and row hashes, the table named on stdin
	CmdSparse  = "ferry-sparse"  // ferry-sparse: the order directory's sparse files, as JSON
	// CmdMailboxes is ferry-mailboxes: the folders, UIDVALIDITY and
	// message UIDs of the mailboxes in the order's user homes, as JSON.
	CmdMailboxes = "ferry-mailboxes"
	CmdTLS       = "ferry-tls" // ferry-tls NAME: the PEM chain and key of the ACME site first named NAME, on stdin
)

// request is a command the policy allows.
type request struct {
	Kind string
	// Rsync is rsync's server argv after "rsync", checked option by
	// option and ending in the cleaned destination.
	Rsync  []string
	Dest   string
	DryRun bool
	DB     model.MoveDB
	Login  string
	Site   string
}

// maxReceiveCommand bounds the command line the forced command reads.
const maxReceiveCommand = 4096

// parseReceive checks command (the client's SSH_ORIGINAL_COMMAND) against
// the move's policy and returns what it asks for, or a refusal. Only these
// pass: rsync's receiving server into the order directory, a load into one
// of the move's databases, the checksums or the objects of one of them,
// the stamps (last-write times) of one of them, one table's row list,
// the list of the order directory's sparse files, its mailboxes' UIDs, and the
// crontab lines of one of the order's logins.
func parse(command string, pol Policy, isEngine func(string) bool) (request, error) {
	if command == "" {
		return request{}, Refused("no command: this key only runs the move's transfers")
	}
	if len(command) > maxReceiveCommand {
		return request{}, Refused("command longer than %d bytes", maxReceiveCommand)
	}
	words, err := splitCommandWords(command)
	if err != nil {
		return request{}, Refused("%v", err)
	}
	if len(words) == 0 {
		return request{}, Refused("no command: this key only runs the move's transfers")
	}
	switch words[0] {
	case CmdRsync:
		return parseRsyncServer(words[1:], pol)
	case CmdLoad, CmdSums, CmdStamps, CmdObjects, CmdRows:
		if len(words) != 3 {
			return request{}, Refused("usage: %s mysql|pgsql DATABASE", words[0])
		}
		engine, name := words[1], words[2]
		if !isEngine(engine) {
			return request{}, Refused("engine %q: want mysql or pgsql", engine)
		}
		if model.ValidateDatabaseName(name) != nil {
			return request{}, Refused("%q is not a database name", name)
		}
		db, ok := pol.Database(engine, name)
		if !ok {
			return request{}, Refused("database %s (%s) is not one of move %d's databases", name, engine, pol.MoveID)
		}
		return request{Kind: words[0], DB: db}, nil
	case CmdSparse, CmdMailboxes:
		if len(words) != 1 {
			return request{}, Refused("usage: %s", words[0])
		}
		return request{Kind: words[0]}, nil
	case CmdCrontab:
		if len(words) != 2 {
			return request{}, Refused("usage: %s LOGIN", CmdCrontab)
		}
		login := words[1]
		if model.ValidateLogin(login) != nil || !slices.Contains(pol.Logins, login) {
			return request{}, Refused("login %q is not one of move %d's logins", login, pol.MoveID)
		}
		return request{Kind: CmdCrontab, Login: login}, nil
	case CmdTLS:
		// The site is named by its first server name: the new host's
		// copy of the item has another id. Whether it is one of the
		// order's ACME sites is the host's to check (Host.TLS).
		if len(words) != 2 {
			return request{}, Refused("usage: %s SERVER-NAME", CmdTLS)
		}
		if d, err := model.NormalizeDomain(words[1], 2); err != nil || d != words[1] {
			return request{}, Refused("%q is not a server name", clip(words[1], 80))
		}
		return request{Kind: CmdTLS, Site: words[1]}, nil
	}
	return request{}, Refused("%q: this key only runs rsync into the order directory, %s, %s, %s, %s, %s, %s, %s, %s and %s",
		clip(words[0], 80), CmdLoad, CmdSums, CmdStamps, CmdObjects, CmdRows, CmdSparse, CmdMailboxes, CmdCrontab, CmdTLS)
}

// rsyncServerShort are the one-letter options rsync's client sends to a
// receiving server for ferry's transfers (-rlptgoHAXS, -n for a dry run;
// -d and -R for the final sync's list of changed paths): links, hard
// links, owner, group, times, perms, ACLs, xattrs, recursion, directories
// without recursion, relative paths, sparse files, dry run, verbosity. Not D: a move never makes device files
// (FIFOs and sockets come with --specials). 'e' ends the
// cluster with the client's protocol capabilities.
const rsyncServerShort = "lHogtpAXrdRSnv"

var (
	rsyncCapsRe   = regexp.MustCompile(`^[A-Za-z.]*$`)
	rsyncNumberRe = regexp.MustCompile(`^[0-9]{1,9}$`)
	rsyncInfoRe   = regexp.MustCompile(`^[A-Za-z0-9,]{1,100}$`)
)

// rsyncServerLong checks the long options rsync's client sends for ferry's
// transfers; each returns whether the value is fine.
var rsyncServerLong = map[string]func(v string, hasValue bool) bool{
	"--delete": noValue,
	// The final sync's list: a listed path gone on the old host is
	// deleted here, a directory with what it holds.
	"--delete-missing-args": noValue,
	"--force":               noValue,
	"--specials":            noValue,
	"--stats":               noValue,
	"--partial":             noValue,
	"--timeout":             func(v string, ok bool) bool { return ok && rsyncNumberRe.MatchString(v) },
	"--bwlimit":             func(v string, ok bool) bool { return ok && rsyncNumberRe.MatchString(v) },
	"--log-format":          func(v string, ok bool) bool { return ok && (v == "%i" || v == "X") },
	"--info":                func(v string, ok bool) bool { return ok && rsyncInfoRe.MatchString(v) },
}

func noValue(_ string, hasValue bool) bool { return !hasValue }

// rsyncServerChmod is added to every receiving server: no set-user-ID or
// set-group-ID file arrives on the new host, whoever owns it (directories
// keep their set-group-ID bit, which web/ uses).
const rsyncServerChmod = "--chmod=Fu-s,Fg-s"

// parseRsyncServer checks the arguments after "rsync" of a receiving server.
func parseRsyncServer(args []string, pol Policy) (request, error) {
	if len(args) == 0 || args[0] != "--server" {
		return request{}, Refused("rsync runs here only as a server (rsync --server …)")
	}
	req := request{Kind: CmdRsync, Rsync: []string{"--server"}}
	i := 1
	sawShort := false
	for ; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			break
		}
		switch {
		case a == "--sender":
			return request{}, Refused("rsync --sender: nothing is read out of this host")
		case a == "--numeric-ids":
			return request{}, Refused("rsync --numeric-ids: owners map by name between hosts")
		case strings.HasPrefix(a, "--"):
			name, value, hasValue := strings.Cut(a, "=")
			check, ok := rsyncServerLong[name]
			if !ok {
				return request{}, Refused("rsync option %s is not allowed", clip(name, 60))
			}
			if !check(value, hasValue) {
				return request{}, Refused("rsync option %s: value not allowed", clip(a, 80))
			}
		default:
			if sawShort {
				return request{}, Refused("rsync: a second cluster of one-letter options")
			}
			sawShort = true
			flags := a[1:]
			for j, c := range flags {
				if c == 'e' {
					if !rsyncCapsRe.MatchString(flags[j+1:]) {
						return request{}, Refused("rsync: protocol capabilities %q", clip(flags[j+1:], 40))
					}
					break
				}
				if !strings.ContainsRune(rsyncServerShort, c) {
					return request{}, Refused("rsync option -%c is not allowed", c)
				}
				if c == 'n' {
					req.DryRun = true
				}
			}
		}
		req.Rsync = append(req.Rsync, a)
	}
	if !sawShort {
		return request{}, Refused("rsync: no transfer options")
	}
	rest := args[i:]
	if len(rest) != 2 || rest[0] != "." {
		return request{}, Refused("rsync: want the arguments \". DESTINATION\", got %d", len(rest))
	}
	dest, err := receiveDest(rest[1], pol.OrderDir)
	if err != nil {
		return request{}, err
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
		return "", Refused("rsync destination %q: must be an absolute path inside %s", clip(dest, 200), orderDir)
	}
	for _, part := range strings.Split(dest, "/") {
		if part == ".." {
			return "", Refused("rsync destination %q: \"..\" is not allowed", clip(dest, 200))
		}
	}
	c := path.Clean(dest)
	if c != orderDir && !strings.HasPrefix(c, orderDir+"/") {
		return "", Refused("rsync destination %s: outside the order directory %s", clip(c, 200), orderDir)
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
