package cli

import (
	"strings"
	"testing"
	"time"

	"ferry/internal/model"
)

// The PHP flags of item add and update reach the spec; a version the host
// lacks is refused naming the host's; move plan shows the site's version on
// both hosts and refuses a new host without it unless given --php.
func TestPHPThroughTheCLI(t *testing.T) {
	s := startServer(t)
	s.hosts(t)
	s.admin(t, "host", "add", "web2", "--address", "127.0.1.12", "--role", "web")
	s.seed(t, "coop", "example.org")
	nodes := s.nodes(t, "web1", "web2", "dns1")
	nodes["web1"].SetPHPVersions("8.1", "8.2")
	nodes["web2"].SetPHPVersions("8.2", "8.3")
	s.admin(t, "item", "add", "example.org", "user-account", "--login", "coop")

	r := s.ferry(t, s.adminToken, "", "item", "add", "example.org", "web-conf", "--login", "coop", "--server-name", "example.org", "--php-version", "8.3")
	if r.code != ExitRefused || !strings.Contains(r.stderr, "spec.php_version: host web1 has no PHP 8.3 (it has PHP-FPM 8.1, 8.2)") {
		t.Errorf("a version web1 lacks: exit %d: %s", r.code, r.stderr)
	}
	site := decode[model.Item](t, s.admin(t, "item", "add", "example.org", "web-conf", "--login", "coop", "--server-name", "example.org",
		"--php-version", "8.1", "--upload-max-filesize", "64m", "--max-children", "8", "--json"))
	if p := site.Spec.PHPSettings; p.PHPVersion != "8.1" || p.UploadMaxFilesize != "64M" || p.MaxChildren != 8 || p.MemoryLimit != "" {
		t.Errorf("added site's PHP settings: %+v", p)
	}
	r = s.ferry(t, s.adminToken, "", "item", "update", itoa(site.ID), "--post-max-size", "32M")
	if r.code != ExitRefused || !strings.Contains(r.stderr, "spec.post_max_size: 32M is less than upload_max_filesize 64M") {
		t.Errorf("post below upload: exit %d: %s", r.code, r.stderr)
	}

	plan := func(args ...string) result {
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := s.ferry(t, s.adminToken, "", append([]string{"move", "plan", "example.org", "--to", "web2"}, args...)...)
			if !strings.Contains(r.stdout, "every item must be active") || time.Now().After(deadline) {
				return r
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	r = plan()
	for _, want := range []string{
		"example.org as coop  PHP 8.1 on web1 → PHP 8.1 on web2 (has 8.2, 8.3)",
		"refused: site example.org as coop runs PHP 8.1 on web1, which web2 lacks (it has PHP-FPM 8.2, 8.3): install php8.1-fpm on web2, or move it to one of those with --php VERSION",
	} {
		if r.code != ExitRefused || !strings.Contains(r.stdout, want) {
			t.Errorf("plan: exit %d, want %q in\n%s%s", r.code, want, r.stdout, r.stderr)
		}
	}
	r = plan("--php", "8.3")
	for _, want := range []string{"PHP 8.1 on web1 → PHP 8.3 on web2", "nothing stops the move: ferry move start example.org --to web2 --php 8.3"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("plan --php 8.3: exit %d, want %q in\n%s%s", r.code, want, r.stdout, r.stderr)
		}
	}
	if r = plan("--php", "8"); r.code != ExitRefused || !strings.Contains(r.stderr, `php: "8" is not a PHP version`) {
		t.Errorf("plan --php 8: exit %d: %s", r.code, r.stderr)
	}
}
