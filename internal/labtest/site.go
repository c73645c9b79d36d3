package labtest

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"ferry/internal/model"
)

// The passwords Site gives its accounts; tests look for them in logs.
const (
	UserPassword  = "user-pass-1"
	DBPassword    = "db-pass-123"
	PgSQLPassword = "pg-pass-123"
)

// sitePHP reads a greeting from the site's own database.
const sitePHP = `<?php
$db = new mysqli('localhost', '%USER%', '%PASS%', '%DB%');
$row = $db->query('SELECT msg FROM greeting ORDER BY id DESC LIMIT 1')->fetch_row();
echo "<html><head><title>%TITLE%</title></head><body>", htmlspecialchars($row[0]), " from ", gethostname(), " as ", posix_getpwuid(posix_geteuid())['name'], "</body></html>\n";
`

// Site makes an order with one item of each kind on web1 through the CLI
// and a PHP page reading its database; it returns the order's directory.
func (e *Env) Site(member, domain, login, db string) string {
	e.T.Helper()
	e.Ferry("", "member", "add", member)
	e.Ferry("", "order", "add", domain, "--member", member, "--host", "web1")
	e.Ferry(UserPassword+"\n", "item", "add", domain, "user-account", "--login", login, "--password-file", "-")
	e.Ferry("", "item", "add", domain, "mysql-db", "--name", db)
	e.Ferry(DBPassword+"\n", "item", "add", domain, "mysql-user", "--name", login, "--database", db, "--password-file", "-")
	e.Ferry("", "item", "add", domain, "pgsql-db", "--name", db+"_pg", "--password", PgSQLPassword)
	e.Ferry("", "item", "add", domain, "web-conf", "--login", login, "--server-name", domain+",www."+domain)
	e.Ferry("", "item", "add", domain, "scheduled-job", "--login", login, "--schedule", "*/10 * * * *", "--command", "php web/cron.php")
	e.Ferry("", "item", "add", domain, "dns", "--type", "A", "--value", e.Addr("web1"), "--ttl", "3600")
	e.Ferry("", "item", "add", domain, "dns", "--fqdn", "www."+domain, "--type", "A", "--value", e.Addr("web1"), "--ttl", "1800")
	items := e.WaitItems(domain, 60*time.Second)
	for _, it := range items {
		if it.State != model.StateActive {
			e.T.Fatalf("item %d (%s) is %s: %s", it.ID, it.Kind, it.State, it.Message)
		}
	}
	dir := model.OrderDir(member, domain)
	e.MustOn("web1", "mariadb", db, "-e", "CREATE TABLE greeting (id INT AUTO_INCREMENT PRIMARY KEY, msg TEXT); INSERT INTO greeting (msg) VALUES ('hello');")
	php := strings.NewReplacer("%USER%", login, "%PASS%", DBPassword, "%DB%", db, "%TITLE%", domain).Replace(sitePHP)
	e.WriteFile("web1", dir+"/web/index.php", php, login)
	return dir
}

// writePHP stores one row per request and answers "ok N" only once the row
// is committed, so an "ok" is a write the site promised to keep.
const writePHP = `<?php
$db = new mysqli('localhost', '%USER%', '%PASS%', '%DB%');
$n = intval($_GET['n']);
if (!$db->query("INSERT INTO writes (n) VALUES ($n)")) { http_response_code(500); exit; }
echo "ok $n\n";
`

// MovableSite is Site plus pages that do not name the serving host (so
// verify can compare both hosts) and a table the client writes to.
func (e *Env) MovableSite(member, domain, login, db string) string {
	e.T.Helper()
	dir := e.Site(member, domain, login, db)
	e.MustOn("web1", "mariadb", db, "-e", "CREATE TABLE writes (n INT PRIMARY KEY)")
	page := strings.NewReplacer("%USER%", login, "%PASS%", DBPassword, "%DB%", db).Replace(writePHP)
	e.WriteFile("web1", dir+"/web/write.php", page, login)
	e.WriteFile("web1", dir+"/web/index.php", "<html><head><title>"+domain+"</title></head><body>welcome</body></html>\n", login)
	e.WriteFile("web1", dir+"/web/who.php", "<?php echo gethostname();\n", login)
	e.MustOn("web1", "sh", "-c", "mkdir -p "+dir+"/web/files && for i in $(seq 1 200); do head -c $((i*97)) /dev/urandom > "+dir+"/web/files/f$i; done && ln "+dir+"/web/files/f1 "+dir+"/web/files/hardlink && chown -R "+login+": "+dir+"/web/files")
	return dir
}

// Writer is a site's visitor that keeps writing: each request resolves the
// name through ferry's DNS (as a resolver would once the TTL ran out) and
// retries a write until the site acknowledges it.
type Writer struct {
	e      *Env
	name   string
	mu     sync.Mutex
	acked  []int
	served map[string]int // acknowledging address → count
	stop   chan struct{}
	done   chan struct{}
}

// StartWriter starts a visitor writing to the site called name.
func (e *Env) StartWriter(name string) *Writer {
	w := &Writer{e: e, name: name, served: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *Writer) run() {
	defer close(w.done)
	client := &http.Client{Timeout: 5 * time.Second}
	for n := 1; ; n++ {
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			addr := w.e.resolveA(w.name)
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

// Finish stops the visitor and returns the writes the site acknowledged
// and, by address, how many each acknowledged.
func (w *Writer) Finish() (acked []int, served map[string]int) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acked, w.served
}

// TreeSum is a checksum of a directory tree: names, owners by name, modes,
// link counts and contents.
func (e *Env) TreeSum(host, dir string) string {
	e.T.Helper()
	return e.MustOn(host, "sh", "-c", "cd "+dir+" && find . -printf '%p %u %g %m %n %s\\n' | sort | sha256sum && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum")
}

// TableSum is the row count and a checksum of one of the tables Site and
// MovableSite make (greeting, writes).
func (e *Env) TableSum(host, db, table string) string {
	e.T.Helper()
	return strings.TrimSpace(e.MustOn(host, "mariadb", "-N", db, "-e", "SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('|', "+map[string]string{"greeting": "id, msg", "writes": "n"}[table]+"))), 0) FROM "+table))
}
