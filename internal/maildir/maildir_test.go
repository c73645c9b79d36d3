package maildir

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A uid list as Dovecot 2.3 writes it after two deliveries and a folder
// sync (the second message's line carries extension fields).
const uidList3 = `3 V1765000000 N4 G0c2bd5255f4b3b67a10b0000d3a7e6a0
1 :1765000001.M1P10.web1,S=643,W=660
3 W700 S683 :1765000003.M2P11.web1,S=683,W=700:2,S
`

func TestParseUIDList(t *testing.T) {
	l, err := ParseUIDList(strings.NewReader(uidList3))
	if err != nil {
		t.Fatal(err)
	}
	if l.UIDValidity != 1765000000 || l.NextUID != 4 {
		t.Errorf("UIDVALIDITY %d, next %d; want 1765000000, 4", l.UIDValidity, l.NextUID)
	}
	want := map[string]uint32{"1765000001.M1P10.web1,S=643,W=660": 1, "1765000003.M2P11.web1,S=683,W=700": 3}
	if len(l.UIDs) != len(want) {
		t.Errorf("UIDs %v, want %v", l.UIDs, want)
	}
	for b, u := range want {
		if l.UIDs[b] != u {
			t.Errorf("UID of %s = %d, want %d", b, l.UIDs[b], u)
		}
	}
	v1, err := ParseUIDList(strings.NewReader("1 42 3\n2 msg.a:2,\n"))
	if err != nil || v1.UIDValidity != 42 || v1.UIDs["msg.a"] != 2 {
		t.Errorf("version 1: %+v, %v", v1, err)
	}
	for _, bad := range []string{
		"",
		"3 N4\n",                         // no UIDVALIDITY
		"2 V1 N1\n",                      // unknown version
		"3 V1 N2\nx :a\n",                // UID not a number
		"3 V1 N2\n0 :a\n",                // UID 0
		"3 V1 N2\n1 a\n",                 // no ':' before the name
		"3 V1 N2\n1 :\n",                 // no name
		"3 V99999999999 N2\n",            // UIDVALIDITY out of range
		"3 V1 N2\n1 :../../etc/passwd\n", // a path
	} {
		if _, err := ParseUIDList(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseUIDList(%q): no error", bad)
		}
	}
	_, err = ParseUIDList(strings.NewReader("3 V1 N2\n1 :a\nbad line\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("error %v does not name line 3", err)
	}
}

// maildir makes a folder with a uid list and message files.
func maildir(t *testing.T, dir, uidlist string, cur, new []string) {
	t.Helper()
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if uidlist != "" {
		if err := os.WriteFile(filepath.Join(dir, UIDListFile), []byte(uidlist), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for sub, names := range map[string][]string{"cur": cur, "new": new} {
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(dir, sub, n), []byte("Subject: x\n\nx\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestReadFindsFoldersAndUIDsAndFollowsNoSymlink(t *testing.T) {
	users := t.TempDir()
	md := filepath.Join(users, "post", "Maildir")
	maildir(t, md, uidList3, []string{"1765000001.M1P10.web1,S=643,W=660:2,S"}, []string{"1765000003.M2P11.web1,S=683,W=700", "1765000009.M9P1.web1"})
	maildir(t, filepath.Join(md, ".Sent"), "3 V1765000100 N2\n1 :s1\n", []string{"s1:2,S"}, nil)
	// Not folders: no cur/, a symlink, a file.
	os.MkdirAll(filepath.Join(md, ".NotAFolder"), 0o700)
	secret := filepath.Join(t.TempDir(), "elsewhere")
	maildir(t, secret, "3 V7 N2\n1 :secret\n", []string{"secret"}, nil)
	if err := os.Symlink(secret, filepath.Join(md, ".Linked")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(secret), filepath.Join(users, "linkhome")); err != nil {
		t.Fatal(err)
	}
	// A home without a Maildir.
	os.MkdirAll(filepath.Join(users, "web"), 0o755)

	got, err := Read(users, "Maildir")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, f := range got {
		keys = append(keys, f.Key())
	}
	if !slices.Equal(keys, []string{"post/INBOX", "post/Sent"}) {
		t.Fatalf("folders %v, want post/INBOX and post/Sent", keys)
	}
	in := got[0]
	if in.UIDValidity != 1765000000 {
		t.Errorf("INBOX UIDVALIDITY %d", in.UIDValidity)
	}
	want := []Message{{0, "1765000009.M9P1.web1"}, {1, "1765000001.M1P10.web1,S=643,W=660"}, {3, "1765000003.M2P11.web1,S=683,W=700"}}
	if !slices.Equal(in.Messages, want) {
		t.Errorf("INBOX messages %v, want %v", in.Messages, want)
	}

	// A uid list that is a symlink is refused, not read.
	os.Remove(filepath.Join(md, ".Sent", UIDListFile))
	if err := os.Symlink(filepath.Join(secret, UIDListFile), filepath.Join(md, ".Sent", UIDListFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(users, "Maildir"); err == nil || !strings.Contains(err.Error(), "folder Sent") {
		t.Errorf("a symlinked uid list: error %v, want one naming folder Sent", err)
	}
}

func TestReadOfNoUsersDirectoryIsEmpty(t *testing.T) {
	got, err := Read(filepath.Join(t.TempDir(), "none"), "Maildir")
	if err != nil || got != nil {
		t.Errorf("Read = %v, %v", got, err)
	}
}

func folder(name string, v uint32, msgs ...Message) Folder {
	return Folder{Account: "post", Name: name, UIDValidity: v, Messages: msgs}
}

func TestCompare(t *testing.T) {
	a, b, c := Message{1, "a"}, Message{2, "b"}, Message{3, "c"}
	for _, tc := range []struct {
		name     string
		old, cur []Folder
		final    bool
		problems []string // a part of each problem, in order
		check    Check
	}{
		{name: "same", old: []Folder{folder("INBOX", 9, a, b)}, cur: []Folder{folder("INBOX", 9, a, b)}, final: true,
			check: Check{Account: "post", Folder: "INBOX", OldUIDValidity: 9, NewUIDValidity: 9, Old: 2, New: 2}},
		{name: "mail since the sync is carried later", old: []Folder{folder("INBOX", 9, a, b, c)}, cur: []Folder{folder("INBOX", 9, a)},
			check: Check{Account: "post", Folder: "INBOX", OldUIDValidity: 9, NewUIDValidity: 9, Old: 3, New: 1, Missing: 2}},
		{name: "after the final sync a missing message is a problem", old: []Folder{folder("INBOX", 9, a, b)}, cur: []Folder{folder("INBOX", 9, a)}, final: true,
			problems: []string{"1 missing on the new"}},
		{name: "expunged on the old host after the final sync", old: []Folder{folder("INBOX", 9, a)}, cur: []Folder{folder("INBOX", 9, a, b)}, final: true,
			problems: []string{"1 only there"}},
		{name: "UIDVALIDITY changed", old: []Folder{folder("INBOX", 9, a)}, cur: []Folder{folder("INBOX", 10, a)},
			problems: []string{"UIDVALIDITY 9 on the old host, 10 on the new"}},
		{name: "renumbered", old: []Folder{folder("INBOX", 9, a, b)}, cur: []Folder{folder("INBOX", 9, a, Message{5, "b"})},
			problems: []string{"1 message(s) under another UID"}},
		{name: "a UID names another message", old: []Folder{folder("INBOX", 9, a, b)}, cur: []Folder{folder("INBOX", 9, a, Message{2, "x"})},
			problems: []string{"1 message(s) under another UID"}},
		{name: "a folder made since the sync", old: []Folder{folder("INBOX", 9, a), folder("Sent", 11, a)}, cur: []Folder{folder("INBOX", 9, a)}},
		{name: "a folder missing after the final sync", old: []Folder{folder("INBOX", 9, a), folder("Sent", 11, a)}, cur: []Folder{folder("INBOX", 9, a)}, final: true,
			problems: []string{"folder Sent: not on the new host"}},
		{name: "a folder only on the new host after the final sync", old: []Folder{folder("INBOX", 9, a)}, cur: []Folder{folder("INBOX", 9, a), folder("Old", 3)}, final: true,
			problems: []string{"folder Old: only on the new host"}},
		{name: "no uid list on the new host after the final sync", old: []Folder{folder("INBOX", 9, a)}, cur: []Folder{folder("INBOX", 0, Message{0, "a"})}, final: true,
			problems: []string{"UIDVALIDITY 9 on the old host, 0 on the new"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checks, problems := Compare(tc.old, tc.cur, tc.final)
			if len(problems) != len(tc.problems) {
				t.Fatalf("problems %q, want %d like %q", problems, len(tc.problems), tc.problems)
			}
			for i, p := range tc.problems {
				if !strings.Contains(problems[i], p) {
					t.Errorf("problem %q does not say %q", problems[i], p)
				}
			}
			if tc.check.Folder != "" && (len(checks) == 0 || checks[0] != tc.check) {
				t.Errorf("checks %+v, want first %+v", checks, tc.check)
			}
		})
	}
}

func TestDecodeRefusesWhatIsNotAFolderList(t *testing.T) {
	good, _ := json.Marshal([]Folder{folder("INBOX", 9, Message{1, "a"})})
	if f, err := Decode(good); err != nil || len(f) != 1 {
		t.Fatalf("Decode(%s) = %v, %v", good, f, err)
	}
	for _, bad := range []string{`{}`, `[{"account":"","name":"INBOX"}]`, `[{"account":"post","name":"a/b"}]`,
		`[{"account":"post","name":"INBOX","messages":[{"uid":1,"base":"../x"}]}]`, `[{"account":"post","name":"INBOX","uidvalidity":-1}]`} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%s): no error", bad)
		}
	}
}

func FuzzParseUIDList(f *testing.F) {
	for _, s := range []string{uidList3, "1 42 3\n2 msg.a:2,\n", "3 V1 N2\n1 :a\n", "3\n", "3 V\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseUIDList(strings.NewReader(s))
		if err != nil {
			return
		}
		if l.UIDValidity == 0 {
			t.Fatalf("%q: parsed without a UIDVALIDITY", s)
		}
		for b, u := range l.UIDs {
			if u == 0 || b == "" || strings.ContainsAny(b, "/:\x00") {
				t.Fatalf("%q: UID %d for %q", s, u, b)
			}
		}
	})
}

func FuzzDecode(f *testing.F) {
	good, _ := json.Marshal([]Folder{folder("INBOX", 9, Message{1, "a"})})
	f.Add(string(good))
	f.Add(`[]`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Decode([]byte(s))
		if err != nil {
			return
		}
		for _, fo := range got {
			if fo.Account == "" || strings.Contains(fo.Key()[len(fo.Account)+1:], "/") {
				t.Fatalf("%q: decoded folder %q", s, fo.Key())
			}
		}
		Compare(got, got, true)
	})
}
