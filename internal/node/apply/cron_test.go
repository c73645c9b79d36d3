package apply

import (
	"slices"
	"strings"
	"testing"

	"ferry/internal/model"
)

func jobSpec(schedule, command string) model.Spec {
	return model.Spec{Login: "rosa", Schedule: schedule, Command: command}
}

func TestScheduledJobLifeCycle(t *testing.T) {
	e := newTestEnv(t)
	e.host.AddUser("rosa", "/home/members/rosa/sites/example.org/users/rosa")
	e.host.Crontabs["rosa"] = "MAILTO=rosa@example.org\n30 2 * * * ~/backup\n"

	applyOK(t, e, testItem(12, model.KindScheduledJob, model.StatePendingInsert, jobSpec("*/5  *  * * *", "php cron.php")), model.StateActive)
	want := "MAILTO=rosa@example.org\n30 2 * * * ~/backup\n" + CronBegin + "\n# ferry item 12\n*/5 * * * * php cron.php\n" + CronEnd + "\n"
	if got := e.host.Crontabs["rosa"]; got != want {
		t.Errorf("crontab:\n%s\nwant:\n%s", got, want)
	}
	e.host.Ran()

	// The same job again: read, but nothing to write.
	applyOK(t, e, testItem(12, model.KindScheduledJob, model.StatePendingUpdate, jobSpec("*/5 * * * *", "php cron.php")), model.StateActive)
	if ran := e.host.Ran(); !slices.Equal(ran, []string{"getent passwd rosa", "crontab -u rosa -l"}) {
		t.Errorf("re-apply ran %q", ran)
	}

	applyOK(t, e, testItem(13, model.KindScheduledJob, model.StatePendingInsert, jobSpec("@hourly", "~/sync")), model.StateActive)
	applyOK(t, e, testItem(12, model.KindScheduledJob, model.StatePendingDisable, jobSpec("*/5 * * * *", "php cron.php")), model.StateDisabled)
	if got := e.host.Crontabs["rosa"]; !strings.Contains(got, "# ferry item 12\n# */5 * * * * php cron.php\n# ferry item 13\n@hourly ~/sync\n") {
		t.Errorf("after disable:\n%s", got)
	}
	applyOK(t, e, testItem(12, model.KindScheduledJob, model.StatePendingDelete, jobSpec("*/5 * * * *", "php cron.php")), model.StateDeleted)
	applyOK(t, e, testItem(13, model.KindScheduledJob, model.StatePendingDelete, jobSpec("@hourly", "~/sync")), model.StateDeleted)
	if got := e.host.Crontabs["rosa"]; got != "MAILTO=rosa@example.org\n30 2 * * * ~/backup\n" {
		t.Errorf("after delete the user's own lines are not as they were:\n%s", got)
	}

	// A crontab that held only ferry's job is removed, not left empty.
	delete(e.host.Crontabs, "rosa")
	applyOK(t, e, testItem(14, model.KindScheduledJob, model.StatePendingInsert, jobSpec("@daily", "true")), model.StateActive)
	e.host.Ran()
	applyOK(t, e, testItem(14, model.KindScheduledJob, model.StatePendingDelete, jobSpec("@daily", "true")), model.StateDeleted)
	if ran := e.host.Ran(); !slices.Contains(ran, "crontab -u rosa -r") {
		t.Errorf("delete of the last job ran %q", ran)
	}
	if _, ok := e.host.Crontabs["rosa"]; ok {
		t.Error("crontab left behind")
	}
	applyOK(t, e, testItem(14, model.KindScheduledJob, model.StatePendingDelete, jobSpec("@daily", "true")), model.StateDeleted)
}

func TestScheduledJobErrors(t *testing.T) {
	e := newTestEnv(t)
	res := applyOK(t, e, testItem(12, model.KindScheduledJob, model.StatePendingInsert, jobSpec("@daily", "true")), model.StateSoftError)
	if res.Message != "user rosa does not exist on this host (apply its user-account first)" {
		t.Errorf("message %q", res.Message)
	}
	res = applyOK(t, e, testItem(12, model.KindScheduledJob, model.StatePendingDelete, jobSpec("@daily", "true")), model.StateDeleted)
	if !strings.Contains(res.Message, "not on this host") {
		t.Errorf("message %q", res.Message)
	}

	e.host.AddUser("rosa", "/home/x")
	e.host.Crontabs["rosa"] = "@daily mine\n" + CronBegin + "\n# ferry item 3\n@hourly x\n"
	res = applyOK(t, e, testItem(12, model.KindScheduledJob, model.StatePendingInsert, jobSpec("@daily", "true")), model.StateSoftError)
	if !strings.Contains(res.Message, "crontab of rosa: ") || !strings.Contains(res.Message, "mend it with crontab -u rosa -e") {
		t.Errorf("message %q", res.Message)
	}

	res = applyOK(t, e, testItem(12, model.KindScheduledJob, model.StatePendingInsert, jobSpec("61 * * * *", "true")), model.StateHardError)
	if !strings.Contains(res.Message, "spec.schedule") {
		t.Errorf("message %q", res.Message)
	}
}

func TestParseCrontabRefusesDamagedBlocks(t *testing.T) {
	for _, text := range []string{
		CronBegin + "\n# ferry item 1\n@daily x\n",
		CronEnd + "\n",
		CronBegin + "\n" + CronBegin + "\n" + CronEnd + "\n",
		CronBegin + "\n" + CronEnd + "\n" + CronBegin + "\n" + CronEnd + "\n",
	} {
		if _, err := ParseCrontab(text); err == nil {
			t.Errorf("parsed a damaged crontab:\n%s", text)
		}
	}
}

func TestParseCrontabKeepsStrayLines(t *testing.T) {
	text := CronBegin + "\n# ferry item x\n# ferry item 5\n# ferry item 6\n@daily six\n" + CronEnd + "\n"
	tab, err := ParseCrontab(text)
	if err != nil {
		t.Fatal(err)
	}
	// The tag with no number and the tag with no line after it are not
	// ferry's lines any more; they move out of the block.
	want := "# ferry item x\n# ferry item 5\n" + CronBegin + "\n# ferry item 6\n@daily six\n" + CronEnd + "\n"
	if got := tab.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// FuzzParseCrontab: whatever a user's crontab holds, ferry either refuses it
// or keeps every line of the user's, and its own rendering is stable.
func FuzzParseCrontab(f *testing.F) {
	f.Add("")
	f.Add("MAILTO=x\n@daily a\n")
	f.Add(CronBegin + "\n# ferry item 3\n@daily a\n" + CronEnd + "\nafter\n")
	f.Add("before\n" + CronBegin + "\nstray\n# ferry item 3\n# @daily a\n" + CronEnd)
	f.Fuzz(func(t *testing.T, text string) {
		tab, err := ParseCrontab(text)
		if err != nil {
			return
		}
		out := tab.String()
		if out != "" && !strings.HasSuffix(out, "\n") {
			t.Fatalf("rendered crontab does not end in a newline: %q", out)
		}
		// Every line of the input but blanks and ferry's markers is still
		// there.
		for _, l := range strings.Split(text, "\n") {
			l = strings.TrimSpace(l)
			if l != "" && l != CronBegin && l != CronEnd && !strings.Contains(out, l) {
				t.Fatalf("line %q lost:\n%q\n→\n%q", l, text, out)
			}
		}
		again, err := ParseCrontab(out)
		if err != nil {
			t.Fatalf("cannot parse what it rendered: %v\n%q", err, out)
		}
		if again.String() != out {
			t.Fatalf("render is not stable:\n%q\n%q", out, again.String())
		}
	})
}
