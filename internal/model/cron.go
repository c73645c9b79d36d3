package model

import (
	"strconv"
	"strings"
)

var cronMacros = map[string]bool{
	"@reboot": true, "@yearly": true, "@annually": true, "@monthly": true,
	"@weekly": true, "@daily": true, "@midnight": true, "@hourly": true,
}

type cronField struct {
	name     string
	min, max int
	names    []string // names[i] stands for min+i
}

var cronFields = []cronField{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{name: "day of week", min: 0, max: 7, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// ValidateCronSchedule checks a crontab(5) schedule: five fields (numbers,
// ranges, steps, lists, month and weekday names) or one of the @ macros.
func ValidateCronSchedule(s string) error {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "@") {
		if !cronMacros[s] {
			return errorString("%q is not a cron macro (@reboot, @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)", s)
		}
		return nil
	}
	fields := strings.Fields(s)
	if len(fields) != 5 {
		return errorString("must have five fields (minute hour day-of-month month day-of-week) or be an @ macro, got %d fields", len(fields))
	}
	for i, f := range fields {
		if err := cronFields[i].check(f); err != nil {
			return err
		}
	}
	return nil
}

func (cf cronField) check(f string) error {
	for _, part := range strings.Split(f, ",") {
		rng, step, hasStep := strings.Cut(part, "/")
		if hasStep {
			n, err := strconv.Atoi(step)
			if err != nil || n < 1 || n > cf.max+1 {
				return errorString("%s: step %q must be a number from 1 to %d", cf.name, step, cf.max+1)
			}
		}
		if rng == "*" {
			continue
		}
		lo, hi, isRange := strings.Cut(rng, "-")
		a, err := cf.value(lo)
		if err != nil {
			return err
		}
		if !isRange {
			if hasStep {
				return errorString("%s: a step needs * or a range, not %q", cf.name, part)
			}
			continue
		}
		b, err := cf.value(hi)
		if err != nil {
			return err
		}
		if b < a {
			return errorString("%s: range %q runs backwards", cf.name, rng)
		}
	}
	return nil
}

func (cf cronField) value(s string) (int, error) {
	for i, n := range cf.names {
		// The same length keeps the match ASCII, as cron reads it:
		// EqualFold alone also takes "ſun" (long s, two bytes).
		if len(s) == len(n) && strings.EqualFold(s, n) {
			return cf.min + i, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < cf.min || n > cf.max || strings.HasPrefix(s, "+") {
		return 0, errorString("%s: %q must be a number from %d to %d", cf.name, s, cf.min, cf.max)
	}
	return n, nil
}

// ValidateCronCommand checks a crontab command line: one line, no unescaped
// %, which cron would turn into a newline and feed to the command as input.
func ValidateCronCommand(s string) error {
	if strings.TrimSpace(s) == "" {
		return errorString("is empty")
	}
	if len(s) > 1024 {
		return errorString("is longer than 1024 characters")
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return errorString("must be one line without control characters")
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == '%' {
			return errorString("contains an unescaped %% (cron turns it into a newline); write \\%%")
		}
	}
	return nil
}
