// Package maildir reads what an IMAP client relies on from the Maildirs
// in an order's user homes, as Dovecot keeps them: each folder's
// UIDVALIDITY and the UID of each message (Dovecot's dovecot-uidlist file
// beside the folder's cur/ and new/). A move compares what the two hosts
// say: the same UIDVALIDITY and the same message under each UID mean a
// client sees the same mailbox and downloads nothing again.
//
// Nothing here follows a symlink or reads more than maxUIDList bytes of a
// uid list: a member owns the Maildir, and the reader runs as root.
package maildir

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// UIDListFile is Dovecot's list of a Maildir folder's UIDs.
const UIDListFile = "dovecot-uidlist"

// maxUIDList bounds what is read of one uid list: at about 70 bytes a
// line, a folder of some 900,000 messages.
const maxUIDList = 64 << 20

// Folder is one folder of one account's Maildir.
type Folder struct {
	Account string `json:"account"`
	// Name is "INBOX" or a Maildir++ folder's name ("Sent", "a.b").
	Name        string `json:"name"`
	UIDValidity uint32 `json:"uidvalidity"`
	// Messages are the folder's messages, by UID; a message Dovecot has
	// not numbered yet (no line in the uid list) has UID 0.
	Messages []Message `json:"messages"`
}

// Message is one message file, named by its base name (the file name
// up to the ':' that begins its flags): the name stays when flags change.
type Message struct {
	UID  uint32 `json:"uid"`
	Base string `json:"base"`
}

// Key names the folder for messages: "account/name".
func (f Folder) Key() string { return f.Account + "/" + f.Name }

// UIDList is a parsed dovecot-uidlist: the folder's UIDVALIDITY and the
// UID of each base name it lists.
type UIDList struct {
	UIDValidity uint32
	NextUID     uint32
	UIDs        map[string]uint32
}

// ParseUIDList reads a dovecot-uidlist (version 3, which Dovecot 2 writes,
// or version 1). A line it cannot read is an error naming the line.
func ParseUIDList(r io.Reader) (UIDList, error) {
	l := UIDList{UIDs: map[string]uint32{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return l, err
		}
		return l, errors.New("empty uid list")
	}
	head := strings.Fields(sc.Text())
	if len(head) == 0 {
		return l, errors.New("uid list: empty first line")
	}
	version := head[0]
	switch version {
	case "3":
		for _, f := range head[1:] {
			if len(f) < 2 {
				continue
			}
			var err error
			switch f[0] {
			case 'V':
				l.UIDValidity, err = parseUID(f[1:])
			case 'N':
				l.NextUID, err = parseUID(f[1:])
			}
			if err != nil {
				return l, fmt.Errorf("uid list: first line: %q: %w", f, err)
			}
		}
	case "1":
		if len(head) < 3 {
			return l, errors.New("uid list: version 1 first line without UIDVALIDITY and next UID")
		}
		var err1, err2 error
		l.UIDValidity, err1 = parseUID(head[1])
		l.NextUID, err2 = parseUID(head[2])
		if err := errors.Join(err1, err2); err != nil {
			return l, fmt.Errorf("uid list: first line: %w", err)
		}
	default:
		return l, fmt.Errorf("uid list: version %q (want 1 or 3)", clip(version))
	}
	if l.UIDValidity == 0 {
		return l, errors.New("uid list: no UIDVALIDITY on the first line")
	}
	n := 1
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" {
			continue
		}
		uid, base, err := parseUIDLine(line, version)
		if err != nil {
			return l, fmt.Errorf("uid list line %d: %w", n, err)
		}
		l.UIDs[base] = uid
	}
	if err := sc.Err(); err != nil {
		return l, fmt.Errorf("uid list line %d: %w", n+1, err)
	}
	return l, nil
}

// parseUIDLine reads "UID [EXT...] :FILENAME" (version 3) or "UID
// FILENAME" (version 1).
func parseUIDLine(line, version string) (uint32, string, error) {
	num, rest, ok := strings.Cut(line, " ")
	if !ok {
		return 0, "", fmt.Errorf("%q: no file name", clip(line))
	}
	uid, err := parseUID(num)
	if err != nil {
		return 0, "", fmt.Errorf("%q: %w", clip(line), err)
	}
	name := rest
	if version == "3" {
		i := strings.Index(rest, ":")
		if i < 0 {
			return 0, "", fmt.Errorf("%q: no ':' before the file name", clip(line))
		}
		name = rest[i+1:]
	}
	base := baseName(name)
	if base == "" || strings.ContainsAny(base, "/\x00") {
		return 0, "", fmt.Errorf("%q: not a message file name", clip(line))
	}
	return uid, base, nil
}

func parseUID(s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("%q is not a number from 1 to 4294967295", clip(s))
	}
	return uint32(v), nil
}

// baseName is a message file's name without its flags (":2,S").
func baseName(name string) string {
	base, _, _ := strings.Cut(name, ":")
	return base
}

func clip(s string) string {
	if len(s) > 80 {
		s = strings.ToValidUTF8(s[:80], "") + "…"
	}
	return s
}

// Read returns the folders of every account's Maildir below usersDir
// (usersDir/LOGIN/mailboxDir), sorted. A home, Maildir or folder that is
// a symlink is skipped; a uid list that is a symlink or not a regular
// file is an error naming the folder.
func Read(usersDir, mailboxDir string) ([]Folder, error) {
	homes, err := os.ReadDir(usersDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Folder
	for _, h := range homes {
		if !h.IsDir() {
			continue // a symlink's DirEntry is not a directory
		}
		md := filepath.Join(usersDir, h.Name(), mailboxDir)
		if fi, err := os.Lstat(md); err != nil || !fi.IsDir() {
			continue
		}
		fs, err := readMaildir(h.Name(), md)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	slices.SortFunc(out, func(a, b Folder) int { return cmp.Compare(a.Key(), b.Key()) })
	return out, nil
}

// readMaildir reads one account's Maildir: INBOX at its top, a Maildir++
// folder in each ".NAME" directory that holds a cur/.
func readMaildir(account, dir string) ([]Folder, error) {
	var out []Folder
	if isFolder(dir) {
		f, err := readFolder(account, "INBOX", dir)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || len(name) < 2 || name[0] != '.' || name == ".." {
			continue
		}
		sub := filepath.Join(dir, name)
		if !isFolder(sub) {
			continue
		}
		f, err := readFolder(account, name[1:], sub)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// isFolder says whether dir is a Maildir folder: it has a cur/ that is a
// directory, not a symlink.
func isFolder(dir string) bool {
	fi, err := os.Lstat(filepath.Join(dir, "cur"))
	return err == nil && fi.IsDir()
}

// readFolder reads one folder: its uid list (none yet: UIDVALIDITY 0)
// and the message files in cur/ and new/.
func readFolder(account, name, dir string) (Folder, error) {
	f := Folder{Account: account, Name: name, Messages: []Message{}}
	list, err := readUIDList(filepath.Join(dir, UIDListFile))
	if err != nil {
		return f, fmt.Errorf("mailbox %s folder %s: %w", account, name, err)
	}
	f.UIDValidity = list.UIDValidity
	for _, sub := range []string{"cur", "new"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return f, err
		}
		for _, e := range entries {
			if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			base := baseName(e.Name())
			f.Messages = append(f.Messages, Message{UID: list.UIDs[base], Base: base})
		}
	}
	slices.SortFunc(f.Messages, func(a, b Message) int {
		return cmp.Or(cmp.Compare(a.UID, b.UID), cmp.Compare(a.Base, b.Base))
	})
	return f, nil
}

// readUIDList reads a folder's uid list without following a symlink; a
// folder Dovecot has not opened yet has none.
func readUIDList(path string) (UIDList, error) {
	fd, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return UIDList{UIDs: map[string]uint32{}}, nil
	}
	if err != nil {
		return UIDList{}, err
	}
	defer fd.Close()
	if fi, err := fd.Stat(); err != nil || !fi.Mode().IsRegular() {
		return UIDList{}, fmt.Errorf("%s is not a regular file", UIDListFile)
	}
	return ParseUIDList(io.LimitReader(fd, maxUIDList))
}
