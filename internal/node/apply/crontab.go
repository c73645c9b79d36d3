package apply

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The markers around the block of a user's crontab that ferry manages.
// Everything outside the block is the user's own and is kept as it is.
const (
	CronBegin  = "# BEGIN ferry-managed (do not edit inside)"
	CronEnd    = "# END ferry-managed"
	CronTagPfx = "# ferry item "
)

// cronJob is one scheduled-job item in the block: a tag line naming the
// item, then its crontab line, commented out while the item is disabled.
type cronJob struct {
	ID   int64
	Line string
}

// cronLine is a job's crontab line; schedule and command are validated.
func cronLine(schedule, command string, disabled bool) string {
	if disabled {
		return "# " + schedule + " " + command
	}
	return schedule + " " + command
}

// Crontab is a user's Crontab split around ferry's block.
type Crontab struct {
	Before, After []string // the user's lines
	Found         bool     // the block was there
	jobs          []cronJob
}

// ParseCrontab splits a crontab around ferry's block. Lines inside the
// block that are not ferry's (someone edited inside it) are kept, moved to
// just before the block. A block that is not closed, or a second block, is
// an error: ferry cannot tell what is whose.
func ParseCrontab(text string) (Crontab, error) {
	var c Crontab
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if text == "" {
		lines = nil
	}
	inBlock := false
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		t := strings.TrimSpace(l)
		switch {
		case t == CronBegin && c.Found:
			return Crontab{}, fmt.Errorf("line %d: a second %q", i+1, CronBegin)
		case t == CronBegin:
			inBlock, c.Found = true, true
		case t == CronEnd && inBlock:
			inBlock = false
		case t == CronEnd:
			return Crontab{}, fmt.Errorf("line %d: %q without %q", i+1, CronEnd, CronBegin)
		case !inBlock && c.Found:
			c.After = append(c.After, l)
		case !inBlock:
			c.Before = append(c.Before, l)
		case strings.HasPrefix(t, CronTagPfx) && i+1 < len(lines):
			id, err := strconv.ParseInt(strings.TrimPrefix(t, CronTagPfx), 10, 64)
			next := strings.TrimSpace(lines[i+1])
			if err != nil || id <= 0 || next == CronEnd || next == CronBegin || strings.HasPrefix(next, CronTagPfx) {
				c.Before = append(c.Before, l)
				continue
			}
			i++
			c.jobs = append(c.jobs, cronJob{ID: id, Line: next})
		default:
			if t != "" {
				c.Before = append(c.Before, l)
			}
		}
	}
	if inBlock {
		return Crontab{}, fmt.Errorf("%q without %q", CronBegin, CronEnd)
	}
	return c, nil
}

// set puts job into the block, in place of the item's line if it has one.
func (c *Crontab) set(job cronJob) {
	c.remove(job.ID)
	c.jobs = append(c.jobs, job)
}

// remove takes the item's line out of the block.
func (c *Crontab) remove(id int64) {
	c.jobs = slices.DeleteFunc(c.jobs, func(j cronJob) bool { return j.ID == id })
}

// String renders the crontab: the user's lines before the block, the block
// with its jobs in item order (none when it has no jobs), the user's lines
// after it. It ends in a newline, as cron requires, or is empty.
func (c Crontab) String() string {
	var b strings.Builder
	for _, l := range c.Before {
		b.WriteString(l + "\n")
	}
	if len(c.jobs) > 0 {
		jobs := slices.Clone(c.jobs)
		slices.SortFunc(jobs, func(x, y cronJob) int { return cmp.Compare(x.ID, y.ID) })
		b.WriteString(CronBegin + "\n")
		for _, j := range jobs {
			b.WriteString(CronTagPfx + strconv.FormatInt(j.ID, 10) + "\n")
			b.WriteString(j.Line + "\n")
		}
		b.WriteString(CronEnd + "\n")
	}
	for _, l := range c.After {
		b.WriteString(l + "\n")
	}
	if strings.TrimSpace(b.String()) == "" {
		return ""
	}
	return b.String()
}
