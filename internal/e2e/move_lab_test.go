//go:build lab

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"ferry/internal/model"
)

// writePHP stores one row per request and answers "ok N" only once the row
// is committed, so an "ok" is a write the site promised to keep.
const writePHP = `<?php
$db = new mysqli('localhost', '%USER%', '%PASS%', '%DB%');
$n = intval($_GET['n']);
if (!$db->query("INSERT INTO writes (n) VALUES ($n)")) { http_response_code(500); exit; }
echo "ok $n\n";
`

// movableSite is site() plus pages that do not name the serving host (so
// verify can compare both hosts) and a table the client writes to.
func (e *env) movableSite(member, domain, login, db string) string {
	e.t.Helper()
	dir := e.site(member, domain, login, db)
	e.mustOn("web1", "mariadb", db, "-e", "CREATE TABLE writes (n INT PRIMARY KEY)")
	page := strings.NewReplacer("%USER%", login, "%PASS%", "db-pass-123", "%DB%", db).Replace(writePHP)
	e.writeFile("web1", dir+"/web/write.php", page, login)
	e.writeFile("web1", dir+"/web/index.php", "<html><head><title>"+domain+"</title></head><body>welcome</body></html>\n", login)
	e.writeFile("web1", dir+"/web/who.php", "<?php echo gethostname();\n", login)
	e.mustOn("web1", "sh", "-c", "mkdir -p "+dir+"/web/files && for i in $(seq 1 200); do head -c $((i*97)) /dev/urandom > "+dir+"/web/files/f$i; done && ln "+dir+"/web/files/f1 "+dir+"/web/files/hardlink && chown -R "+login+": "+dir+"/web/files")
	return dir
}

// writer is a site's visitor that keeps writing: each request resolves the
// name through ferry's DNS (as a resolver would once the TTL ran out) and
// retries a write until the site acknowledges it.
type writer struct {
	e      *env
	name   string
	mu     sync.Mutex
	acked  []int
	served map[string]int // acknowledging address → count
	stop   chan struct{}
	done   chan struct{}
}

func (e *env) startWriter(name string) *writer {
	w := &writer{e: e, name: name, served: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *writer) resolve() string {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(w.name), dns.TypeA)
	r, _, err := (&dns.Client{Timeout: time.Second}).Exchange(m, net.JoinHostPort(w.e.addr("dns1"), "53"))
	if err != nil {
		return ""
	}
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			return a.A.String()
		}
	}
	return ""
}

func (w *writer) run() {
	defer close(w.done)
	client := &http.Client{Timeout: 5 * time.Second}
	for n := 1; ; n++ {
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			addr := w.resolve()
			req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s/write.php?n=%d", addr, n), nil)
			req.Host = w.name
			resp, err := client.Do(req)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 && strings.TrimSpace(string(body)) == fmt.Sprintf("ok %d", n) {
					w.mu.Lock()
					w.acked = append(w.acked, n)
					w.served[addr]++
					w.mu.Unlock()
					break
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (w *writer) finish() ([]int, map[string]int) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acked, w.served
}

// treeSum is a checksum of a directory tree: names, owners by name, modes,
// link counts and contents.
func (e *env) treeSum(host, dir string) string {
	e.t.Helper()
	return e.mustOn(host, "sh", "-c", "cd "+dir+" && find . -printf '%p %u %g %m %n %s\\n' | sort | sha256sum && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum")
}

func (e *env) tableSum(host, db, table string) string {
	e.t.Helper()
	return strings.TrimSpace(e.mustOn(host, "mariadb", "-N", db, "-e", "SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('|', "+map[string]string{"greeting": "id, msg", "writes": "n"}[table]+"))), 0) FROM "+table))
}

func TestLabMoveOrderEndToEnd(t *testing.T) {
	e := newEnv(t)
	const domain = "echo.example"
	dir := e.movableSite("echo", domain, "echo", "echo_site")
	e.mustOn("web1", "mariadb", "echo_site", "-e", "INSERT INTO greeting (msg) VALUES ('from before the move')")
	w := e.startWriter("www." + domain)
	time.Sleep(500 * time.Millisecond)

	plan := e.ferry("", "move", "plan", domain, "--to", "web2")
	if !strings.Contains(plan, "nothing stops the move") {
		t.Fatalf("move plan:\n%s", plan)
	}
	e.ferry("", "move", "start", domain, "--to", "web2")
	// Prepare: the site still serves from web1, through a limbo order.
	if got := e.mustOn("web1", "getent", "passwd", "echo"); got == "" {
		t.Fatal("the limbo copy stopped existing on web1")
	}
	if ans := answer(e.ask("www."+domain, dns.TypeA)); ans != e.addr("web1")+" ttl=300" {
		t.Errorf("after start, www answers %q, want web1 with ttl 300", ans)
	}
	e.ferry("", "move", "sync", domain)
	e.mustOn("web1", "mariadb", "echo_site", "-e", "INSERT INTO greeting (msg) VALUES ('written between syncs')")
	e.ferry("", "move", "sync", domain)
	report := e.ferry("", "move", "verify", domain)
	if !strings.Contains(report, e.addr("web2")+" "+domain) {
		t.Errorf("verify prints no /etc/hosts line for web2:\n%s", report)
	}
	if _, errOut, code := e.ferryCode("", "move", "cutover", domain); code != 3 || !strings.Contains(errOut, "TTL") {
		t.Errorf("cutover before the old TTL ran out: exit %d %q, want a TTL guard (3)", code, errOut)
	}
	cut := e.ferry("", "move", "cutover", domain, "--force")
	t.Logf("cutover:\n%s", cut)
	if !strings.Contains(cut, "frozen for") {
		t.Errorf("cutover does not report the freeze window:\n%s", cut)
	}
	// web1 is frozen and proxies: what it holds now is the data at cutover.
	atCutover := map[string]string{
		"tree":     e.treeSum("web1", dir+"/web"),
		"greeting": e.tableSum("web1", "echo_site", "greeting"),
	}
	oldRows := e.mustOn("web1", "mariadb", "-N", "echo_site", "-e", "SELECT n FROM writes ORDER BY n")
	time.Sleep(time.Second) // the writer goes on through the proxy and DNS
	acked, served := w.finish()
	t.Logf("client: %d writes acknowledged, by address %v", len(acked), served)
	if len(acked) < 10 {
		t.Fatalf("the client made only %d writes", len(acked))
	}

	if _, errOut, code := e.ferryCode("", "move", "cleanup", domain); code != 3 {
		t.Errorf("cleanup right after cutover: exit %d %q, want a guard (3)", code, errOut)
	}
	e.ferry("", "move", "cleanup", domain, "--force")

	// The data on web2 equals web1's at cutover, and no acknowledged write
	// was lost.
	if got := e.treeSum("web2", dir+"/web"); got != atCutover["tree"] {
		t.Errorf("file tree on web2 differs from web1's at cutover")
	}
	if got := e.tableSum("web2", "echo_site", "greeting"); got != atCutover["greeting"] {
		t.Errorf("greeting table on web2 %s, web1 at cutover %s", got, atCutover["greeting"])
	}
	newRows := e.mustOn("web2", "mariadb", "-N", "echo_site", "-e", "SELECT n FROM writes ORDER BY n")
	have := map[string]bool{}
	for _, n := range strings.Fields(newRows) {
		have[n] = true
	}
	for _, n := range strings.Fields(oldRows) {
		if !have[n] {
			t.Errorf("row %s of web1 at cutover is missing on web2", n)
		}
	}
	for _, n := range acked {
		if !have[fmt.Sprint(n)] {
			t.Errorf("acknowledged write %d is lost", n)
		}
	}

	// The site answers from web2 through ferry's DNS, TTL restored.
	if ans := answer(e.ask("www."+domain, dns.TypeA)); ans != e.addr("web2")+" ttl=1800" {
		t.Errorf("www answers %q, want web2 with its ttl 1800 restored", ans)
	}
	if who, err := e.curl("web2", e.addr("web2"), "www."+domain, "/who.php"); err != nil || who != "web2" {
		t.Errorf("site via web2 answers %q %v", who, err)
	}
	if cron := e.mustOn("web2", "crontab", "-l", "-u", "echo"); !strings.Contains(cron, "php web/cron.php") {
		t.Errorf("crontab on web2:\n%s", cron)
	}

	// web1 holds nothing of the order.
	e.waitNothingOn("web1", "echo", "echo_site", dir)
	orders, err := e.admin.ListOrders(context.Background(), apiOrderQuery(domain))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range orders {
		if o.State == model.OrderTransferLimbo {
			t.Errorf("limbo order %d still there", o.ID)
		}
	}
	if keys, _ := e.on("web2", "cat", "/root/.ssh/authorized_keys"); strings.Contains(keys, "ferry-move") {
		t.Errorf("the move's key is still authorised on web2:\n%s", keys)
	}
}

// waitNothingOn waits until host holds no user, database, directory, vhost
// or pool of the order.
func (e *env) waitNothingOn(host, login, db, dir string) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var left []string
		if _, err := e.on(host, "getent", "passwd", login); err == nil {
			left = append(left, "user "+login)
		}
		if dbs, _ := e.on(host, "mariadb", "-N", "-e", "SHOW DATABASES"); strings.Contains(dbs, db+"\n") {
			left = append(left, "database "+db)
		}
		if _, err := e.on(host, "test", "-e", dir); err == nil {
			left = append(left, "directory "+dir)
		}
		if out, _ := e.on(host, "sh", "-c", "ls /etc/apache2/sites-enabled /etc/php/8.2/fpm/pool.d /var/spool/cron/crontabs"); strings.Contains(out, login) || strings.Contains(out, strings.TrimSuffix(strings.TrimPrefix(dir, "/home/members/"+login+"/sites/"), "/")) {
			left = append(left, "config: "+out)
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s still holds: %s", host, strings.Join(left, "; "))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func TestLabMoveAbortAfterSyncRestoresTheStart(t *testing.T) {
	e := newEnv(t)
	const domain = "foxtrot.example"
	dir := e.movableSite("foxtrot", domain, "foxtrot", "foxtrot_site")
	before := map[string]string{
		"tree":  e.treeSum("web1", dir),
		"table": e.tableSum("web1", "foxtrot_site", "greeting"),
		"dns":   answer(e.ask("www."+domain, dns.TypeA)),
		"items": itemStates(e, domain),
	}
	e.ferry("", "move", "start", domain, "--to", "web2")
	e.ferry("", "move", "sync", domain)
	e.ferry("", "move", "abort", domain)

	e.waitNothingOn("web2", "foxtrot", "foxtrot_site", dir)
	if got := e.treeSum("web1", dir); got != before["tree"] {
		t.Error("web1's files changed")
	}
	if got := e.tableSum("web1", "foxtrot_site", "greeting"); got != before["table"] {
		t.Error("web1's table changed")
	}
	if got := answer(e.ask("www."+domain, dns.TypeA)); got != before["dns"] {
		t.Errorf("dns after abort %q, before %q", got, before["dns"])
	}
	if got := itemStates(e, domain); got != before["items"] {
		t.Errorf("items after abort:\n%s\nbefore:\n%s", got, before["items"])
	}
	if page, err := e.curl("web1", e.addr("web1"), domain, "/"); err != nil || !strings.Contains(page, "welcome") {
		t.Errorf("site on web1 after abort: %q %v", page, err)
	}
	o, err := e.admin.GetOrder(context.Background(), domain)
	if err != nil || o.Host != "web1" || o.State != model.OrderActive {
		t.Errorf("order after abort: %+v %v", o, err)
	}
}

// itemStates lists an order's live items as kind, host, state and what.
func itemStates(e *env, domain string) string {
	var lines []string
	for _, it := range e.waitItems(domain, 30*time.Second) {
		if it.State == model.StateDeleted {
			continue
		}
		lines = append(lines, fmt.Sprintf("%s %s %s %v %s %d", it.Kind, it.Host, it.State, it.Spec.ServerNames, it.Spec.Name+it.Spec.Login+it.Spec.FQDN, it.Spec.TTL))
	}
	return strings.Join(lines, "\n")
}
