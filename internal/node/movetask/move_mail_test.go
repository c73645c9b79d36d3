package movetask

import (
	"slices"
	"testing"
)

// Paths in the accounts' Maildirs are told apart from the order's other
// files, and only those.
func TestSplitMailboxFiles(t *testing.T) {
	files, mail := splitMailboxFiles([]string{
		"users/post/Maildir/", "users/post/Maildir/dovecot-uidlist", "users/post/Maildir/new/17.M1P2.web1,S=643",
		"users/post/Maildirs/x", "web/users/post/Maildir/x", "users/post/mail/Maildir/x", "web/index.php", "users/post/",
	})
	if want := []string{"users/post/Maildirs/x", "web/users/post/Maildir/x", "users/post/mail/Maildir/x", "web/index.php", "users/post/"}; !slices.Equal(files, want) {
		t.Errorf("files %q, want %q", files, want)
	}
	if len(mail) != 3 {
		t.Errorf("mailbox files %q", mail)
	}
}
