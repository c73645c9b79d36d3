package apply

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"ferry/internal/atomicfile"
	"ferry/internal/model"
)

// MailConfig says where the host's Postfix and Dovecot read what mailbox
// and email-address items become. Postfix's main.cf and Dovecot's config
// point at these files once (docs/mail.md); the node rewrites them.
type MailConfig struct {
	// StateDir holds one JSON file per mail item of this host, which the
	// maps are rendered from.
	StateDir string
	// PostfixDir receives the lookup tables: domains (virtual_alias_domains),
	// aliases (virtual_alias_maps), mailboxes (virtual_mailbox_maps), and
	// relay (relay_domains) and transport (transport_maps) for a moved
	// order's mail, each with its postmap'ed .db.
	PostfixDir string
	// DovecotUsers is the passwd-file userdb of the host's mailboxes.
	DovecotUsers string
	// MailboxDomain is the host's own domain for its mailboxes: an address
	// is an alias of login@MailboxDomain, which Postfix hands to Dovecot's
	// LMTP. It never leaves the host.
	MailboxDomain string
	// Postmap builds a lookup table's .db; the table's path is appended.
	Postmap []string
	// PostfixReload and DovecotReload make the daemons read the new files;
	// none is run when the daemon's name is "none".
	PostfixReload []string
	DovecotReload []string
	// Settle is how long the stages of a change of the maps are given to
	// reach all of Postfix's daemons (writeMailMaps); 2 s when zero.
	Settle time.Duration
	// FlushQueue has Postfix try its deferred mail again, after a moved
	// order's mail stops being held.
	FlushQueue []string
}

// DefaultMailConfig is Debian's layout.
func DefaultMailConfig() MailConfig {
	return MailConfig{
		StateDir:      "/var/lib/ferry-node/mail",
		PostfixDir:    "/etc/postfix/ferry",
		DovecotUsers:  "/etc/dovecot/ferry-users",
		MailboxDomain: "mailbox.ferry.invalid",
		Postmap:       []string{"postmap"},
		PostfixReload: []string{"postfix", "reload"},
		DovecotReload: []string{"doveadm", "reload"},
		FlushQueue:    []string{"postqueue", "-f"},
		Settle:        2 * time.Second,
	}
}

// The lookup tables in MailConfig.PostfixDir.
const (
	mailDomainsTable   = "domains"
	mailAliasesTable   = "aliases"
	mailMailboxesTable = "mailboxes"
	mailTransportTable = "transport"
	mailRelayTable     = "relay"
)

// mailRelayKind marks the entry of a moved order's relay: its domains'
// mail goes on to the order's new host (NextHop) instead of to this host's
// mailboxes, until the move's cleanup removes the entry.
const mailRelayKind model.Kind = "relay"

// mailEntry is what one mail item puts in the host's maps, kept in
// StateDir as <id>.json.
type mailEntry struct {
	ID    int64      `json:"id"`
	Kind  model.Kind `json:"kind"`
	Order string     `json:"order"`
	// mailbox
	Login   string `json:"login,omitempty"`
	UID     int    `json:"uid,omitempty"`
	GID     int    `json:"gid,omitempty"`
	Home    string `json:"home,omitempty"`
	QuotaMB int    `json:"quota_mb,omitempty"`
	// email-address: its mailbox's login (or none) and forwards.
	Address string   `json:"address,omitempty"`
	Forward []string `json:"forward,omitempty"`
	// relay: the order's mail domains and the address of its new host.
	Domains []string `json:"domains,omitempty"`
	NextHop string   `json:"next_hop,omitempty"`
}

// mailFiles are the files rendered from a host's mail entries.
type mailFiles struct {
	Domains, Aliases, Mailboxes, Transport, Relay, Users []byte
}

const mailHeader = "# Written by ferry node from its mail items; edits are overwritten.\n"

// renderMail renders the host's lookup tables and Dovecot userdb from its
// mail entries. Every address is a virtual alias (of its mailbox's
// login@mailboxDomain and of its forwards), so the order's domains are
// alias domains and mailboxDomain is the one mailbox domain.
func renderMail(entries []mailEntry, mailboxDomain string) mailFiles {
	entries = slices.Clone(entries)
	slices.SortFunc(entries, func(a, b mailEntry) int { return cmp.Compare(a.ID, b.ID) })
	domains := map[string]bool{}
	aliases := map[string][]string{}
	relayed := map[string]string{}
	for _, e := range entries {
		if e.Kind == mailRelayKind {
			for _, d := range e.Domains {
				relayed[d] = "retry:4.3.2 mail of " + e.Order + " is held while it moves to another server"
				if e.NextHop != "" {
					relayed[d] = "smtp:[" + e.NextHop + "]:25"
				}
			}
		}
	}
	var users, mailboxes []string
	for _, e := range entries {
		if e.Kind == model.KindEmailAddress && relayed[model.EmailDomain(e.Address)] != "" {
			continue
		}
		switch e.Kind {
		case model.KindMailbox:
			fields := "mail=maildir:~/" + model.MailboxDir
			if e.QuotaMB > 0 {
				fields += " quota_rule=*:storage=" + strconv.Itoa(e.QuotaMB) + "M"
			}
			users = append(users, fmt.Sprintf("%s::%d:%d::%s::%s", e.Login, e.UID, e.GID, e.Home, fields))
			mailboxes = append(mailboxes, e.Login+"@"+mailboxDomain+"\t"+e.Login+"/")
		case model.KindEmailAddress:
			domains[model.EmailDomain(e.Address)] = true
			var to []string
			if e.Login != "" {
				to = append(to, e.Login+"@"+mailboxDomain)
			}
			for _, f := range append(to, e.Forward...) {
				if !slices.Contains(aliases[e.Address], f) {
					aliases[e.Address] = append(aliases[e.Address], f)
				}
			}
		}
	}
	var aliasLines []string
	for _, a := range sortedKeys(aliases) {
		aliasLines = append(aliasLines, a+"\t"+strings.Join(aliases[a], ", "))
	}
	var domainLines []string
	for _, d := range sortedKeys(domains) {
		domainLines = append(domainLines, d+"\tferry")
	}
	var relayLines, transportLines []string
	for _, d := range sortedKeys(relayed) {
		relayLines = append(relayLines, d+"\tferry")
		transportLines = append(transportLines, d+"\t"+relayed[d])
	}
	slices.Sort(mailboxes)
	slices.Sort(users)
	lines := func(ls []string) []byte {
		var b strings.Builder
		b.WriteString(mailHeader)
		for _, l := range ls {
			b.WriteString(l + "\n")
		}
		return []byte(b.String())
	}
	return mailFiles{Domains: lines(domainLines), Aliases: lines(aliasLines), Mailboxes: lines(mailboxes),
		Transport: lines(transportLines), Relay: lines(relayLines), Users: lines(users)}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// applyMailbox makes the account's Maildir and puts it in the host's
// Dovecot userdb and Postfix mailbox map. Disabling takes it out of both
// (mail to it is refused, its owner cannot log in) and keeps the mail;
// deleting removes the Maildir too.
func (a *Applier) applyMailbox(ctx context.Context, o model.Order, it model.Item, what op) (string, error) {
	s := it.Spec
	u, err := a.lookupUser(ctx, s.Login)
	if err != nil {
		return "", err
	}
	if u == nil && what != opDelete {
		return "", fmt.Errorf("user %s does not exist on this host (apply its user-account first)", s.Login)
	}
	switch what {
	case opEnsure:
		home := filepath.Join(a.OrderDir(o), usersDir, s.Login)
		if u.home != home {
			return "", hardf("user %s's home is %s, not in order %s's directory (%s): its mailbox would not move with the order", s.Login, u.home, o.Identifier, home)
		}
		if err := makeMaildir(filepath.Join(home, model.MailboxDir), u.uid, u.gid); err != nil {
			return "", err
		}
		e := mailEntry{ID: it.ID, Kind: it.Kind, Order: o.Identifier, Login: s.Login, UID: u.uid, GID: u.gid, Home: home, QuotaMB: s.QuotaMB}
		if err := a.setMailEntry(ctx, it.ID, &e); err != nil {
			return "", err
		}
		return fmt.Sprintf("mailbox of %s in %s", s.Login, filepath.Join(home, model.MailboxDir)), nil
	case opDisable:
		if err := a.setMailEntry(ctx, it.ID, nil); err != nil {
			return "", err
		}
		return fmt.Sprintf("mailbox of %s closed; its mail is kept", s.Login), nil
	}
	if err := a.setMailEntry(ctx, it.ID, nil); err != nil {
		return "", err
	}
	if u == nil {
		return fmt.Sprintf("user %s is not on this host, nor is its mailbox", s.Login), nil
	}
	dir := filepath.Join(u.home, model.MailboxDir)
	if !strings.HasPrefix(dir, a.cfg.MembersRoot+"/") {
		return "", hardf("user %s's home %s is outside %s: its mailbox is left alone", s.Login, u.home, a.cfg.MembersRoot)
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("remove mailbox of %s: %w", s.Login, err)
	}
	return fmt.Sprintf("mailbox of %s removed with its mail", s.Login), nil
}

// makeMaildir makes a Maildir (cur, new, tmp) owned by uid:gid, readable
// by its owner only; an existing one is left as it is.
func makeMaildir(dir string, uid, gid int) error {
	for _, d := range []string{dir, filepath.Join(dir, "cur"), filepath.Join(dir, "new"), filepath.Join(dir, "tmp")} {
		if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("make maildir: %w", err)
		}
		fi, err := os.Lstat(d)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("make maildir: %s is not a directory", d)
		}
		if err := os.Lchown(d, uid, gid); err != nil {
			return fmt.Errorf("make maildir: %w", err)
		}
	}
	return nil
}

// applyEmailAddress puts the address in the host's alias map (and its
// domain in the alias domains); disabling or deleting takes it out, so
// mail to it is refused.
func (a *Applier) applyEmailAddress(ctx context.Context, o model.Order, it model.Item, what op) (string, error) {
	s := it.Spec
	if what != opEnsure {
		if err := a.setMailEntry(ctx, it.ID, nil); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s no longer receives mail here", s.Address), nil
	}
	e := mailEntry{ID: it.ID, Kind: it.Kind, Order: o.Identifier, Login: s.Login, Address: s.Address, Forward: s.Forward}
	if err := a.setMailEntry(ctx, it.ID, &e); err != nil {
		return "", err
	}
	return "address " + it.Spec.Summary(model.KindEmailAddress), nil
}

// setMailEntry stores e as item id's entry (nil removes it), renders the
// host's maps from all entries, writes those that changed, and has Postfix
// and Dovecot read them. On a failure the entry is put back as it was.
func (a *Applier) setMailEntry(ctx context.Context, id int64, e *mailEntry) error {
	return a.setMailFile(ctx, a.entryFile(mailEntry{ID: id}), e)
}

// entryFile is where an entry is kept in StateDir: <id>.json for an
// item's, relay-<order>.json for a moved order's relay.
func (a *Applier) entryFile(e mailEntry) string {
	if e.Kind == mailRelayKind {
		return filepath.Join(a.cfg.Mail.StateDir, "relay-"+e.Order+".json")
	}
	return filepath.Join(a.cfg.Mail.StateDir, strconv.FormatInt(e.ID, 10)+".json")
}

// setMailFile stores e in path (nil removes it) and rewrites the maps,
// putting path back as it was when that fails.
func (a *Applier) setMailFile(ctx context.Context, path string, e *mailEntry) error {
	if err := os.MkdirAll(a.cfg.Mail.StateDir, 0o700); err != nil {
		return fmt.Errorf("mail state: %w", err)
	}
	old, err := readFileState(path)
	if err != nil {
		return err
	}
	if e == nil {
		err = os.Remove(path)
		if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
	} else {
		var b []byte
		if b, err = json.MarshalIndent(e, "", "  "); err == nil {
			err = atomicfile.Write(path, append(b, '\n'), 0o600)
		}
	}
	if err == nil {
		err = a.writeMailMaps(ctx)
	}
	if err != nil {
		if rerr := old.restore(); rerr != nil {
			return fmt.Errorf("%w (and putting back %s: %v)", err, path, rerr)
		}
		// The maps say again what they said; the daemons may not have
		// read them, which the retry of this item mends.
		_ = a.writeMailMaps(ctx)
		return err
	}
	return nil
}

// MailEntries reads the host's mail entries, in item order.
func (a *Applier) mailEntries() ([]mailEntry, error) {
	files, err := filepath.Glob(filepath.Join(a.cfg.Mail.StateDir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []mailEntry
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var e mailEntry
		if err := DecodeStrict(b, &e); err != nil {
			return nil, fmt.Errorf("mail state %s: %w", f, err)
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(x, y mailEntry) int { return cmp.Compare(x.ID, y.ID) })
	return out, nil
}

// writeMailMaps renders the maps from the entries, writes the ones that
// changed (postmap'ing each table), and reloads the daemons that read them.
func (a *Applier) writeMailMaps(ctx context.Context) error {
	mc := a.cfg.Mail
	entries, err := a.mailEntries()
	if err != nil {
		return err
	}
	f := renderMail(entries, mc.MailboxDomain)
	if err := os.MkdirAll(mc.PostfixDir, 0o755); err != nil {
		return fmt.Errorf("mail maps: %w", err)
	}
	postfix, dovecot, flush := false, false, false
	type table struct {
		name string
		data []byte
	}
	// Postfix's daemons read each table as it changes, so the order of
	// the writes is what a message arriving between two of them meets. A
	// domain joins the alias domains only after its addresses are in the
	// alias map, and leaves them before its addresses leave (or a
	// recipient meets "user unknown", a permanent refusal); an order's
	// domains are relayed or held before they leave the alias domains, and
	// delivered here again before the relay goes.
	// Written in three stages, each reloaded and given time to reach
	// every daemon before the next: the alias map (and mailboxes), the
	// alias domains, the relay and transport tables. Postfix's daemons
	// each notice a changed table on their own (the address class in
	// trivial-rewrite, the alias lookup in smtpd), so only a pause between
	// the stages keeps one from meeting a domain classed as an alias domain
	// whose addresses already left the alias map: "user unknown", a
	// permanent refusal. A moved order's domains go the other way round.
	stages := [][]table{
		{{mailMailboxesTable, f.Mailboxes}, {mailAliasesTable, f.Aliases}},
		{{mailDomainsTable, f.Domains}},
		{{mailRelayTable, f.Relay}, {mailTransportTable, f.Transport}},
	}
	if cur, _ := os.ReadFile(filepath.Join(mc.PostfixDir, mailRelayTable)); len(f.Relay) > len(cur) {
		slices.Reverse(stages)
	}
	differs := func(t table) bool {
		path := filepath.Join(mc.PostfixDir, t.name)
		cur, err := os.ReadFile(path)
		_, dbErr := os.Stat(path + ".db")
		return err != nil || dbErr != nil || string(cur) != string(t.data)
	}
	var pending []bool
	for _, stage := range stages {
		pending = append(pending, slices.ContainsFunc(stage, differs))
	}
	for i, stage := range stages {
		if !pending[i] {
			continue
		}
		for _, t := range stage {
			if !differs(t) {
				continue
			}
			path := filepath.Join(mc.PostfixDir, t.name)
			if err := atomicfile.Write(path, t.data, 0o644); err != nil {
				return fmt.Errorf("write %s: %w", path, err)
			}
			if _, err := a.Run(ctx, nil, append(slices.Clone(mc.Postmap), "hash:"+path)...); err != nil {
				return fmt.Errorf("postmap %s: %w", path, err)
			}
			flush = flush || t.name == mailTransportTable
		}
		postfix = true
		if !slices.Contains(pending[i+1:], true) || mc.PostfixReload[0] == "none" {
			continue
		}
		if _, err := a.Run(ctx, nil, mc.PostfixReload...); err != nil {
			return fmt.Errorf("reload postfix: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(mc.Settle):
		}
	}
	if err := os.MkdirAll(filepath.Dir(mc.DovecotUsers), 0o755); err != nil {
		return fmt.Errorf("dovecot users: %w", err)
	}
	if dovecot, err = writeIfChanged(mc.DovecotUsers, f.Users, 0o644); err != nil {
		return err
	}
	if postfix && mc.PostfixReload[0] != "none" {
		if _, err := a.Run(ctx, nil, mc.PostfixReload...); err != nil {
			return fmt.Errorf("reload postfix: %w", err)
		}
	}
	// Mail a hold kept in the queue goes on to the new host now.
	if flush && postfix && mc.PostfixReload[0] != "none" {
		if _, err := a.Run(ctx, nil, mc.FlushQueue...); err != nil {
			return fmt.Errorf("flush the mail queue: %w", err)
		}
	}
	if dovecot && mc.DovecotReload[0] != "none" {
		if _, err := a.Run(ctx, nil, mc.DovecotReload...); err != nil {
			return fmt.Errorf("reload dovecot: %w", err)
		}
	}
	return nil
}

// writeIfChanged writes data to path unless it holds data already, and
// says whether it wrote.
func writeIfChanged(path string, data []byte, perm fs.FileMode) (bool, error) {
	cur, err := os.ReadFile(path)
	if err == nil && string(cur) == string(data) {
		return false, nil
	}
	if err := atomicfile.Write(path, data, perm); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	return true, nil
}
