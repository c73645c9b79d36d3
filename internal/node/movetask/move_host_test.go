package movetask

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"ferry/internal/model"
	"ferry/internal/node/apply"
	"ferry/internal/node/hostexec"
	"ferry/internal/node/hostexec/hostexectest"
)

// The old host's side of a move, with every command it runs answered by a
// hostexectest.Host: what it runs, what it sends, and what a user reads when a
// command fails.

// hostMoveEnv is a mover with the move's key made and a fake host for its
// commands.
type hostMoveEnv struct {
	moveTestEnv
	host *hostexectest.Host
	p    model.MoveTaskPayload
	t    moveTarget
}

func newHostMoveEnv(t *testing.T) hostMoveEnv {
	t.Helper()
	env := newMoveTestEnv(t)
	p := moveTestPayload()
	p.HostKey = moveTestHostKey
	if _, err := env.m.keygen(context.Background(), p, nil); err != nil {
		t.Fatal(err)
	}
	tg, err := env.m.target(p)
	if err != nil {
		t.Fatal(err)
	}
	host := hostexectest.NewHost()
	env.useRunner(host)
	return hostMoveEnv{moveTestEnv: env, host: host, p: p, t: tg}
}

// sshTo answers the ssh command that runs remote on the new host.
func sshTo(argv []string, remote string) bool {
	return argv[0] == "ssh" && argv[len(argv)-1] == remote
}

// psqlWith answers psql when the SQL it reads contains sql.
func psqlWith(argv []string, stdin, sql string) bool {
	return slices.Contains(argv, "psql") && strings.Contains(stdin, sql)
}

func sumsJSON(t *testing.T, sums ...model.TableSum) string {
	t.Helper()
	b, err := json.Marshal(sums)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

func TestSegmentWriterSplitsAtLineEnds(t *testing.T) {
	var got []string
	w := &segmentWriter{seg: func(s string, newline bool) {
		if newline {
			s += `\n`
		} else {
			s += `\r`
		}
		got = append(got, s)
	}}
	w.Write([]byte("  10%\r  2"))
	w.Write([]byte("0%\rdone\nlast"))
	w.flush()
	want := []string{`  10%\r`, `  20%\r`, `done\n`, `last\n`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("segments %q, want %q", got, want)
	}
}

func TestExecRunnerStartStreams(t *testing.T) {
	var out, errOut strings.Builder
	wait, err := hostexec.Local{}.Start(context.Background(), hostexec.Cmd{Argv: []string{"cat"}, Stdin: strings.NewReader("rows\n"), Stdout: &out, Stderr: &errOut})
	if err != nil {
		t.Fatal("cat cannot be started:", err)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "rows\n" {
		t.Errorf("cat printed %q", out.String())
	}
	if _, err := (hostexec.Local{}).Start(context.Background(), hostexec.Cmd{Argv: []string{"/nonexistent/ferry-test"}}); err == nil {
		t.Error("a command that does not exist started")
	}
}

func TestSyncFilesRunsRsyncThenSendsOwnCrontab(t *testing.T) {
	e := newHostMoveEnv(t)
	e.host.AddUser("shopper", "/home/members/coop/sites/example.org/users/shopper")
	e.host.Crontabs["shopper"] = "MAILTO=shop@example.org\n*/5 * * * * php cron.php\n" +
		apply.CronBegin + "\n" + apply.CronTagPfx + "12\n0 3 * * * ferry-job\n" + apply.CronEnd + "\n" + "@reboot own-after\n"
	e.host.Respond = func(argv []string, _ string) (hostexectest.Answer, bool) {
		switch {
		case argv[0] == "rsync":
			return hostexectest.Answer{Stdout: "      1,200  50%  1.00MB/s  0:00:00 (xfr#1, to-chk=1/2)\r" +
				"      2,400 100%  1.00MB/s  0:00:00 (xfr#2, to-chk=0/2)\n\nNumber of files: 2\nTotal bytes sent: 2,600\n"}, true
		case sshTo(argv, "ferry-crontab shopper"):
			return hostexectest.Answer{}, true
		}
		return hostexectest.Answer{}, false
	}
	res, err := e.m.syncFiles(context.Background(), e.p, func(any) {})
	if err != nil {
		t.Fatal(err)
	}
	sent := e.host.StdinOf("ssh")
	ran := e.host.Ran()
	if want := strings.Join(e.m.rsyncArgv(e.p, e.t, false), " "); len(ran) == 0 || ran[0] != want {
		t.Fatalf("ran %q\nwant first %q", ran, want)
	}
	if !slices.Contains(ran, "crontab -u shopper -l") {
		t.Errorf("the login's crontab was not read: %q", ran)
	}
	if sent != "MAILTO=shop@example.org\n*/5 * * * * php cron.php\n@reboot own-after\n" {
		t.Errorf("crontab sent %q: want the login's own lines without ferry's block", sent)
	}
	if r := res.(model.MoveSyncFilesResult); r.Percent != 100 {
		t.Errorf("result %+v", r)
	}
}

func TestSyncFilesFailures(t *testing.T) {
	for _, c := range []struct {
		name   string
		rsync  hostexectest.Answer
		cron   hostexectest.Answer
		errHas []string
	}{
		{"disk full", hostexectest.Answer{Stderr: "rsync: [receiver] write failed on \"f\": No space left on device (28)\n", Code: 11}, hostexectest.Answer{},
			[]string{"move 7", "rsync to 127.0.1.12", "No space left on device"}},
		{"vanished files are no failure", hostexectest.Answer{Code: rsyncVanished}, hostexectest.Answer{}, nil},
		{"crontab refused", hostexectest.Answer{}, hostexectest.Answer{Stderr: "ferry node receive: refused: crontab holds a control character\n", Code: 1},
			[]string{"move 7", "copy crontab of shopper", "control character"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newHostMoveEnv(t)
			e.host.AddUser("shopper", "/nonexistent")
			e.host.Crontabs["shopper"] = "* * * * * true\n"
			e.host.Respond = func(argv []string, _ string) (hostexectest.Answer, bool) {
				switch {
				case argv[0] == "rsync":
					return c.rsync, true
				case sshTo(argv, "ferry-crontab shopper"):
					return c.cron, true
				}
				return hostexectest.Answer{}, false
			}
			_, err := e.m.syncFiles(context.Background(), e.p, func(any) {})
			if c.errHas == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			errorSays(t, err, c.errHas...)
		})
	}
}

// pgHost answers the commands of a sync of the PostgreSQL database blog
// with one table, public.t: old holds this host's sums, cur the new
// host's before the load and after the new host's sums after it.
type pgHost struct {
	old, cur, after model.TableSum
	dump, load      hostexectest.Answer
	loaded          atomic.Bool
}

func (h *pgHost) respond(t *testing.T) func(argv []string, stdin string) (hostexectest.Answer, bool) {
	return func(argv []string, stdin string) (hostexectest.Answer, bool) {
		switch {
		case psqlWith(argv, stdin, pgTablesSQL):
			return hostexectest.Answer{Stdout: `["public.t", "r"]` + "\n"}, true
		case psqlWith(argv, stdin, pgObjectsSQL):
			return hostexectest.Answer{Stdout: `["public.t", ` + jsonInt(h.old.Rows) + `, "` + strings.Split(h.old.Checksum, "-")[0] +
				`", "` + strings.Split(h.old.Checksum, "-")[1] + `"]` + "\n"}, true
		case psqlWith(argv, stdin, "pg_constraint k"):
			return hostexectest.Answer{}, true // no foreign keys, no triggers
		case slices.Contains(argv, "pg_dump"):
			return h.dump, true
		case sshTo(argv, "ferry-sums pgsql blog"):
			if h.loaded.Load() {
				return hostexectest.Answer{Stdout: sumsJSON(t, h.after)}, true
			}
			return hostexectest.Answer{Stdout: sumsJSON(t, h.cur)}, true
		case sshTo(argv, "ferry-load pgsql blog"):
			h.loaded.Store(h.load.Code == 0)
			return h.load, true
		}
		return hostexectest.Answer{}, false
	}
}

func jsonInt(n int64) string { return strconv.FormatInt(n, 10) }

// blogT is the sums of the table public.t of blog.
func blogT(rows int64, checksum string) model.TableSum {
	return model.TableSum{DB: "blog", Table: "public.t", Rows: rows, Checksum: checksum}
}

// errorSays fails t unless err says each of parts.
func errorSays(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range parts {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
}

func pgSyncPayload(e hostMoveEnv) model.MoveTaskPayload {
	p := e.p
	p.Databases = []model.MoveDB{{Engine: "pgsql", Name: "blog", Owner: "blogger"}}
	return p
}

// A sync of a PostgreSQL database whose rows alone changed empties and
// fills the changed tables; one whose definitions changed is loaded whole.
func TestSyncDBPostgresLoads(t *testing.T) {
	for _, c := range []struct {
		name     string
		cur      model.TableSum // the new host's before the sync
		dump     string
		wantDump string
		before   string // what the load reads before the dump
	}{
		{"rows changed", blogT(2, "42-abcdef01"), "COPY public.t (id) FROM stdin;\n1\n2\n3\n\\.\n",
			"runuser -u postgres -- pg_dump --data-only --no-owner --strict-names -d blog -t public.t", "TRUNCATE public.t;\n"},
		{"definition changed", blogT(3, "99-12345678"), "CREATE TABLE public.t (id int);\n",
			"runuser -u postgres -- pg_dump --no-owner --quote-all-identifiers -d blog", "DROP OWNED BY \"blogger\";\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newHostMoveEnv(t)
			h := &pgHost{old: blogT(3, "99-abcdef01"), cur: c.cur, after: blogT(3, "99-abcdef01"), dump: hostexectest.Answer{Stdout: c.dump}}
			e.host.Respond = h.respond(t)
			res, err := e.m.syncDB(context.Background(), pgSyncPayload(e), func(any) {})
			if err != nil {
				t.Fatal(err)
			}
			if dumps := e.host.CallsOf("runuser -u postgres -- pg_dump"); len(dumps) != 1 || dumps[0].Argv != c.wantDump {
				t.Fatalf("dumps %+v\nwant %q", dumps, c.wantDump)
			}
			var load hostexectest.Call
			for _, l := range e.host.CallsOf("ssh") {
				if strings.HasSuffix(l.Argv, " 127.0.1.12 ferry-load pgsql blog") {
					load = l
				}
			}
			if want := c.before + c.dump; load.Stdin != want {
				t.Errorf("the load read %q\nwant %q", load.Stdin, want)
			}
			r := res.(model.MoveSyncDBResult)
			if r.TablesCopied != 1 || len(r.Tables) != 1 || !r.Tables[0].Copied || r.Tables[0].NewChecksum != "99-abcdef01" {
				t.Errorf("result %+v", r)
			}
			if r.Bytes != int64(len(load.Stdin)) {
				t.Errorf("%d bytes counted, %d sent", r.Bytes, len(load.Stdin))
			}
		})
	}
}

func TestSyncDBPostgresNothingChangedCopiesNothing(t *testing.T) {
	e := newHostMoveEnv(t)
	same := blogT(3, "99-abcdef01")
	h := &pgHost{old: same, cur: same, after: same}
	e.host.Respond = h.respond(t)
	res, err := e.m.syncDB(context.Background(), pgSyncPayload(e), func(any) {})
	if err != nil {
		t.Fatal(err)
	}
	if dumps := e.host.CallsOf("runuser -u postgres -- pg_dump"); len(dumps) != 0 {
		t.Errorf("dumped %+v", dumps)
	}
	if r := res.(model.MoveSyncDBResult); r.TablesCopied != 0 || r.Bytes != 0 {
		t.Errorf("result %+v", r)
	}
}

func TestSyncDBPostgresFailuresNameDatabaseAndHost(t *testing.T) {
	for _, c := range []struct {
		name       string
		dump, load hostexectest.Answer
		errHas     []string
	}{
		{"dump fails", hostexectest.Answer{Stderr: "pg_dump: error: query failed: ERROR:  permission denied for table t\n", Code: 1}, hostexectest.Answer{},
			[]string{"move 7", "database blog", "dump on this host", "permission denied for table t", "exit status 1"}},
		{"load fails", hostexectest.Answer{Stdout: "COPY public.t FROM stdin;\n"}, hostexectest.Answer{Stderr: "ERROR:  disk full\n", Code: 3},
			[]string{"move 7", "database blog", "ferry-load pgsql blog on 127.0.1.12", "disk full", "exit status 3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newHostMoveEnv(t)
			h := &pgHost{
				old:  blogT(3, "99-abcdef01"),
				cur:  blogT(2, "42-abcdef01"),
				dump: c.dump, load: c.load,
			}
			e.host.Respond = h.respond(t)
			_, err := e.m.syncDB(context.Background(), pgSyncPayload(e), func(any) {})
			errorSays(t, err, c.errHas...)
		})
	}
}

func TestRemoteSumsRefusesForeignTables(t *testing.T) {
	e := newHostMoveEnv(t)
	db := model.MoveDB{Engine: "pgsql", Name: "blog", Owner: "blogger"}
	e.host.Respond = func(argv []string, _ string) (hostexectest.Answer, bool) {
		if sshTo(argv, "ferry-sums pgsql blog") {
			return hostexectest.Answer{Stdout: sumsJSON(t, model.TableSum{DB: "other", Table: "public.t"})}, true
		}
		return hostexectest.Answer{}, false
	}
	if _, err := e.m.remoteSums(context.Background(), e.t, db, []string{"public.t"}); err == nil || !strings.Contains(err.Error(), "unexpected table") {
		t.Errorf("sums of another database accepted: %v", err)
	}
	if got := e.host.StdinOf("ssh"); got != `["public.t"]` {
		t.Errorf("tables asked for: %q", got)
	}
	e.host.Respond = func(argv []string, _ string) (hostexectest.Answer, bool) {
		return hostexectest.Answer{Stderr: "ssh: connect to host 127.0.1.12 port 22: Connection refused\n", Code: 255}, argv[0] == "ssh"
	}
	_, err := e.m.remoteSums(context.Background(), e.t, db, nil)
	if err == nil || !strings.Contains(err.Error(), "checksums of blog on 127.0.1.12: ssh: connect to host") {
		t.Errorf("error %v", err)
	}
}

func TestCopyMySQLTablesDumpsEachTableIntoItsLoad(t *testing.T) {
	e := newHostMoveEnv(t)
	e.host.Respond = func(argv []string, stdin string) (hostexectest.Answer, bool) {
		switch {
		case argv[0] == "mariadb-dump":
			tb := argv[len(argv)-1]
			if tb == "broken" {
				return hostexectest.Answer{Stderr: "mariadb-dump: Couldn't execute 'SHOW CREATE TABLE `broken`': Table 'shop.broken' doesn't exist (1146)\n", Code: 2}, true
			}
			return hostexectest.Answer{Stdout: "INSERT INTO `" + tb + "` VALUES (1);\n"}, true
		case sshTo(argv, "ferry-load mysql shop"):
			return hostexectest.Answer{}, true
		}
		return hostexectest.Answer{}, false
	}
	var counted atomic.Int64
	if err := e.m.copyMySQLTables(context.Background(), e.t, "shop", []string{"a", "-b"}, "ferry-load mysql shop", &counted); err != nil {
		t.Fatal(err)
	}
	var dumps []string
	for _, c := range e.host.CallsOf("mariadb-dump") {
		dumps = append(dumps, c.Argv)
	}
	slices.Sort(dumps)
	want := []string{
		strings.Join(e.m.mysqlDumpArgv("shop", "-b"), " "),
		strings.Join(e.m.mysqlDumpArgv("shop", "a"), " "),
	}
	if !reflect.DeepEqual(dumps, want) {
		t.Errorf("dumps\n %q\nwant %q", dumps, want)
	}
	var loaded []string
	for _, c := range e.host.CallsOf("ssh") {
		loaded = append(loaded, c.Stdin)
	}
	slices.Sort(loaded)
	if want := []string{"INSERT INTO `-b` VALUES (1);\n", "INSERT INTO `a` VALUES (1);\n"}; !reflect.DeepEqual(loaded, want) {
		t.Errorf("loads read %q", loaded)
	}
	if n := counted.Load(); n != int64(len(loaded[0])+len(loaded[1])) {
		t.Errorf("%d bytes counted", n)
	}

	err := e.m.copyMySQLTables(context.Background(), e.t, "shop", []string{"broken"}, "ferry-load mysql shop", &counted)
	errorSays(t, err, "table broken", "dump on this host", "doesn't exist", "exit status 2")
}

func TestSendObjects(t *testing.T) {
	e := newHostMoveEnv(t)
	db := model.MoveDB{Engine: "mysql", Name: "shop"}
	e.host.Respond = func(argv []string, _ string) (hostexectest.Answer, bool) {
		if sshTo(argv, "ferry-objects mysql shop") {
			return hostexectest.Answer{Stdout: `{"notes":["event e made disabled"]}` + "\n"}, true
		}
		return hostexectest.Answer{}, false
	}
	req := mysqlObjectsRequest{Create: []mysqlObject{{Kind: "view", Name: "v"}}, Final: true}
	notes, err := e.m.sendObjects(context.Background(), e.t, db, req)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(notes, []string{"event e made disabled"}) {
		t.Errorf("notes %q", notes)
	}
	var sent mysqlObjectsRequest
	if err := json.Unmarshal([]byte(e.host.StdinOf("ssh")), &sent); err != nil || !reflect.DeepEqual(sent, req) {
		t.Errorf("sent %q (%v)", e.host.StdinOf("ssh"), err)
	}
	e.host.Respond = func(argv []string, _ string) (hostexectest.Answer, bool) {
		return hostexectest.Answer{Stderr: "ferry node receive: refused: view v: its DEFINER is not a quoted account\n", Code: 1}, argv[0] == "ssh"
	}
	if _, err := e.m.sendObjects(context.Background(), e.t, db, req); err == nil ||
		!strings.Contains(err.Error(), "objects of shop on 127.0.1.12") || !strings.Contains(err.Error(), "DEFINER") {
		t.Errorf("error %v", err)
	}
}

func TestVerifyComparesFilesAndSums(t *testing.T) {
	e := newHostMoveEnv(t)
	old := blogT(3, "99-abcdef01")
	cur := blogT(2, "42-abcdef01")
	h := &pgHost{old: old, cur: cur}
	pg := h.respond(t)
	e.host.Respond = func(argv []string, stdin string) (hostexectest.Answer, bool) {
		if argv[0] == "rsync" {
			return hostexectest.Answer{Stdout: ">f.st...... web/index.php\n*deleting   web/old.html\n"}, true
		}
		return pg(argv, stdin)
	}
	res, err := e.m.verify(context.Background(), pgSyncPayload(e), func(any) {})
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Join(e.m.rsyncArgv(e.p, e.t, true), " "); len(e.host.CallsOf("rsync")) != 1 || e.host.CallsOf("rsync")[0].Argv != want {
		t.Errorf("rsync %+v\nwant %q", e.host.CallsOf("rsync"), want)
	}
	r := res.(model.MoveVerifyResult)
	if len(r.FilesDiffering) != 2 {
		t.Errorf("files differing %q", r.FilesDiffering)
	}
	if !reflect.DeepEqual(r.Old, []model.TableSum{old}) || !reflect.DeepEqual(r.New, []model.TableSum{cur}) {
		t.Errorf("sums old %+v new %+v", r.Old, r.New)
	}

	e.host.Respond = func(argv []string, _ string) (hostexectest.Answer, bool) {
		return hostexectest.Answer{Stderr: "rsync: connection unexpectedly closed\n", Code: 12}, argv[0] == "rsync"
	}
	if _, err := e.m.verify(context.Background(), pgSyncPayload(e), func(any) {}); err == nil ||
		!strings.Contains(err.Error(), "rsync dry run to 127.0.1.12") {
		t.Errorf("error %v", err)
	}
}

// The new host's load of a PostgreSQL database: a temporary role, psql as
// nobody with only its own environment, the owner's role set first, and
// the role dropped after.
func TestReceiveLoadPostgres(t *testing.T) {
	cred, err := nobody()
	if err != nil {
		t.Fatal("the loads run as nobody, which this machine lacks:", err)
	}
	e := newHostMoveEnv(t)
	e.host.Respond = func(argv []string, stdin string) (hostexectest.Answer, bool) {
		switch {
		case psqlWith(argv, stdin, "CREATE ROLE"):
			return hostexectest.Answer{Stdout: "*\t5433\n"}, true
		case psqlWith(argv, stdin, "DROP"):
			return hostexectest.Answer{}, true
		case argv[0] == "psql" && strings.Contains(stdin, "broken"):
			return hostexectest.Answer{Stderr: "ERROR:  syntax error at or near \"broken\"\n", Code: 3}, true
		case argv[0] == "psql":
			return hostexectest.Answer{}, true
		}
		return hostexectest.Answer{}, false
	}
	db := model.MoveDB{Engine: "pgsql", Name: "blog", Owner: "blogger"}
	var stderr strings.Builder
	o := ReceiveOptions{MoveID: 7, Stdin: strings.NewReader("CREATE TABLE t (id int);\n"), Stderr: &stderr}
	if err := e.m.receiveLoad(context.Background(), 7, db, o); err != nil {
		t.Fatal(err)
	}
	var load hostexectest.Call
	for _, c := range e.host.Calls {
		if strings.HasPrefix(c.Argv, "psql -X -q -v ON_ERROR_STOP=1 --single-transaction") {
			load = c
		}
	}
	role := strings.TrimPrefix(hostexectest.ArgvAfter(strings.Fields(load.Argv), "-U"), loadAccountPrefix(7))
	if len(role) != 8 || load.Argv != "psql -X -q -v ON_ERROR_STOP=1 --single-transaction -h 127.0.0.1 -p 5433 -U "+loadAccountPrefix(7)+role+" -d blog" {
		t.Fatalf("load %q", load.Argv)
	}
	if load.Stdin != "SET ROLE \"blogger\";\nCREATE TABLE t (id int);\n" {
		t.Errorf("the load read %q", load.Stdin)
	}
	if load.AsUID != int64(cred.Uid) {
		t.Errorf("the load ran as uid %d, want nobody's %d", load.AsUID, cred.Uid)
	}
	if !slices.Contains(load.Env, "PGAPPNAME=ferry-move-7") || slices.ContainsFunc(load.Env, func(v string) bool { return strings.HasPrefix(v, "SSH_") }) {
		t.Errorf("the load's environment %q", load.Env)
	}
	if !strings.Contains(e.host.StdinOf("runuser -u postgres -- psql"), "DROP ROLE IF EXISTS \""+loadAccountPrefix(7)+role+"\"") {
		t.Errorf("the temporary role was not dropped: %+v", e.host.Calls)
	}

	o.Stdin = strings.NewReader("broken;\n")
	err = e.m.receiveLoad(context.Background(), 7, db, o)
	errorSays(t, err, "load into blog", "exit status 3")
	if hostexec.ExitCode(err) != 3 {
		t.Errorf("exit code %d, want the load's own 3", hostexec.ExitCode(err))
	}
}

// rsync's receiving server runs as "rsync" with the checked arguments
// and the forced command's own streams.
func TestReceiveRsyncRunsTheCheckedServer(t *testing.T) {
	e := newHostMoveEnv(t)
	dir := t.TempDir()
	e.host.Respond = func(argv []string, _ string) (hostexectest.Answer, bool) {
		return hostexectest.Answer{Stdout: "rsync's protocol"}, argv[0] == "rsync"
	}
	var out strings.Builder
	argv := []string{"rsync", "--server", "-logDtpre.iLsfxCIvu", ".", dir + "/"}
	err := e.m.receiveRsync(context.Background(), argv, ReceiveOptions{Stdin: strings.NewReader("files"), Stdout: &out})
	if err != nil {
		t.Fatal("the rsync server side cannot run:", err)
	}
	calls := e.host.CallsOf("rsync")
	if len(calls) != 1 || calls[0].Argv != "rsync --server -logDtpre.iLsfxCIvu . "+dir+"/" || calls[0].Stdin != "files" {
		t.Fatalf("ran %+v", calls)
	}
	if out.String() != "rsync's protocol" || calls[0].AsUID != -1 {
		t.Errorf("out %q, uid %d", out.String(), calls[0].AsUID)
	}
}

// A server whose answer about where it listens cannot be read is an
// error, and the temporary role is dropped again.
func TestReceiveLoadPostgresUnreadableListenAddress(t *testing.T) {
	if _, err := nobody(); err != nil {
		t.Fatal("the loads run as nobody, which this machine lacks:", err)
	}
	e := newHostMoveEnv(t)
	e.host.Respond = func(argv []string, stdin string) (hostexectest.Answer, bool) {
		if psqlWith(argv, stdin, "CREATE ROLE") {
			return hostexectest.Answer{Stdout: "localhost\n"}, true
		}
		return hostexectest.Answer{}, slices.Contains(argv, "psql")
	}
	db := model.MoveDB{Engine: "pgsql", Name: "blog", Owner: "blogger"}
	err := e.m.receiveLoad(context.Background(), 7, db, ReceiveOptions{MoveID: 7, Stdin: strings.NewReader("")})
	errorSays(t, err, `psql printed "localhost"`, "listen_addresses and port")
	if !strings.Contains(e.host.StdinOf("runuser -u postgres -- psql"), "DROP ROLE IF EXISTS") {
		t.Error("the temporary role was not dropped")
	}
	if len(e.host.CallsOf("psql -X")) != 0 {
		t.Error("a load ran without knowing where the server listens")
	}
}
