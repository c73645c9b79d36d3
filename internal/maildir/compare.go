package maildir

import (
	"encoding/json"
	"ferry/internal/model"
	"fmt"
	"strings"
)

// Check is one folder as the two hosts of a move hold it.
type Check = model.MailboxCheck

// Compare compares the folders the old and the new host hold. Before the
// final sync (final false) mail still arrives on, and is expunged from,
// the old host, so messages and folders one host lacks are counted, not
// problems; a changed UIDVALIDITY or a renumbered message is one, as a
// client would download the folder again. After the final sync, with the
// order's mail held, the hosts must hold the same messages under the same
// UIDs in every folder.
func Compare(old, cur []Folder, final bool) (checks []Check, problems []string) {
	byKey := map[string]Folder{}
	for _, f := range cur {
		byKey[f.Key()] = f
	}
	seen := map[string]bool{}
	for _, o := range old {
		n, ok := byKey[o.Key()]
		seen[o.Key()] = true
		c := compareFolder(o, n)
		checks = append(checks, c)
		where := fmt.Sprintf("mailbox of %s, folder %s", o.Account, o.Name)
		switch {
		case !ok && final:
			problems = append(problems, fmt.Sprintf("%s: not on the new host (%d message(s))", where, c.Old))
			continue
		case !ok:
			continue
		}
		if c.UIDValidityChanged() {
			problems = append(problems, fmt.Sprintf("%s: UIDVALIDITY %d on the old host, %d on the new: mail clients would download the folder again", where, c.OldUIDValidity, c.NewUIDValidity))
		} else if final && c.OldUIDValidity != c.NewUIDValidity {
			problems = append(problems, fmt.Sprintf("%s: UIDVALIDITY %d on the old host, %d on the new (0: no uid list)", where, c.OldUIDValidity, c.NewUIDValidity))
		}
		if c.Renumbered > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d message(s) under another UID on the new host: mail clients would download them again", where, c.Renumbered))
		}
		if final && (c.Missing > 0 || c.Extra > 0) {
			problems = append(problems, fmt.Sprintf("%s: %d message(s) on the old host, %d on the new; %d missing on the new, %d only there", where, c.Old, c.New, c.Missing, c.Extra))
		}
	}
	for _, n := range cur {
		if seen[n.Key()] {
			continue
		}
		c := compareFolder(Folder{Account: n.Account, Name: n.Name}, n)
		checks = append(checks, c)
		if final {
			problems = append(problems, fmt.Sprintf("mailbox of %s, folder %s: only on the new host (%d message(s))", n.Account, n.Name, c.New))
		}
	}
	return checks, problems
}

// compareFolder counts how o (old host) and n (new host) differ.
func compareFolder(o, n Folder) Check {
	c := Check{Account: o.Account, Folder: o.Name, OldUIDValidity: o.UIDValidity, NewUIDValidity: n.UIDValidity, Old: len(o.Messages), New: len(n.Messages)}
	newByBase := make(map[string]uint32, len(n.Messages))
	newByUID := make(map[uint32]string, len(n.Messages))
	for _, m := range n.Messages {
		newByBase[m.Base] = m.UID
		if m.UID != 0 {
			newByUID[m.UID] = m.Base
		}
	}
	oldBases := make(map[string]bool, len(o.Messages))
	for _, m := range o.Messages {
		oldBases[m.Base] = true
		uid, ok := newByBase[m.Base]
		switch {
		case !ok:
			c.Missing++
			// The UID names another message on the new host.
			if b, taken := newByUID[m.UID]; m.UID != 0 && taken && b != m.Base {
				c.Renumbered++
			}
		case m.UID != 0 && uid != 0 && uid != m.UID:
			c.Renumbered++
		}
	}
	for _, m := range n.Messages {
		if !oldBases[m.Base] {
			c.Extra++
		}
	}
	return c
}

// Summary says the checks in one line: each folder's messages on both
// hosts, for a report.
func Summary(checks []Check) string {
	var parts []string
	for _, c := range checks {
		s := fmt.Sprintf("%s/%s %d→%d", c.Account, c.Folder, c.Old, c.New)
		if c.Missing > 0 {
			s += fmt.Sprintf(" (%d to carry)", c.Missing)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// maxFolders bounds what Decode reads: the answer of another host.
const maxFolders = 64 << 20

// Decode reads the folders another host sent as JSON (Read's result),
// checking that each names an account, a folder and its messages.
func Decode(data []byte) ([]Folder, error) {
	if len(data) > maxFolders {
		return nil, fmt.Errorf("mailbox list of %d bytes (at most %d)", len(data), maxFolders)
	}
	var out []Folder
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("mailbox list: %w", err)
	}
	for _, f := range out {
		if f.Account == "" || f.Name == "" || strings.ContainsAny(f.Account+f.Name, "/\x00\n") {
			return nil, fmt.Errorf("mailbox list: folder %q of account %q: not a folder name", clip(f.Name), clip(f.Account))
		}
		for _, m := range f.Messages {
			if m.Base == "" || strings.ContainsAny(m.Base, "/\x00\n") {
				return nil, fmt.Errorf("mailbox list: folder %s of %s: %q is not a message file name", clip(f.Name), clip(f.Account), clip(m.Base))
			}
		}
	}
	return out, nil
}
