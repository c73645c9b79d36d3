package model_test

import (
	"strings"
	"testing"

	"ferry/internal/model"
)

var cronScheduleCases = append(keep(
	"* * * * *",
	"0 3 * * *",
	"59 23 31 12 6",
	"0 0 1 1 0",
	"0 0 * * 7", // 7 is Sunday too
	"0 0 * * 0-7",
	"*/15 * * * *",
	"*/1 * * * *",
	"*/60 * * * *",
	"0 0-23/2 * * *",
	"0 9-17 * * mon-fri",
	"0 9-17 * * MON-Fri",
	"0 0 1 jan *",
	"0 0 1 JAN,jul,Dec *",
	"0 0 1 jan-mar/2 *",
	"0 0 * * sun,sat",
	"0 0 * * sun-sat",
	"5,10,15 * * * *",
	"1-5,10-15/5,30 * * * *",
	"5-5 * * * *",
	"05 03 * * *",
	"0 0 * * */8",
	"  0 3 * * *  ",
	"0\t3\t*\t*\t*",
	"0  3 *   * *",
	"@reboot", "@yearly", "@annually", "@monthly", "@weekly", "@daily",
	"@midnight", "@hourly",
	" @daily ",
), refuse(
	"",
	"   ",
	"* * * *",
	"* * * * * *",
	"0 0 0 * * *",
	"* * * * * echo",
	"60 * * * *",
	"* 24 * * *",
	"* * 0 * *",
	"* * 32 * *",
	"* * * 0 *",
	"* * * 13 *",
	"* * * * 8",
	"-1 * * * *",
	"+1 * * * *",
	"1.5 * * * *",
	"0x1 * * * *",
	"1_0 * * * *",
	"5-1 * * * *",
	"* * * dec-jan *",
	"* * * * fri-mon",
	"0-60 * * * *",
	"*/0 * * * *",
	"*/61 * * * *",
	"* * * * */9",
	"*/-1 * * * *",
	"*/x * * * *",
	"*/ * * * *",
	"5/10 * * * *", // a step needs * or a range
	"*/5/2 * * * *",
	"1-2-3 * * * *",
	"*-5 * * * *",
	"1- * * * *",
	"-5 * * * *",
	"1,,2 * * * *",
	"1, * * * *",
	",1 * * * *",
	"jan * * * *", // names only in month and day of week
	"* jan * * *",
	"* * * * january",
	"* * * * monday",
	"* * * mon *", // a weekday name in the month field
	"* * * * jan",
	"0 0 * * ſun", // folds to "sun" in Unicode, but cron reads ASCII only
	"0 0 1 ſep *",
	"0 0 * * \u212aun", // Kelvin sign
	"0 0 * * ｓｕｎ",
	"@",
	"@every 5m",
	"@DAILY",
	"@daily 0",
	"@daily echo hi",
	"@ daily",
	"a b c d e",
)...)

func TestValidateCronSchedule(t *testing.T) {
	runNorm(t, checker(model.ValidateCronSchedule), cronScheduleCases)
}

var cronCommandCases = append(keep(
	"php web/cron.php",
	"date +\\%Y-\\%m-\\%d",
	"echo 100\\% done",
	"printf 'a\\tb'",
	"echo a\tb",
	"echo \\\\",
	"cd web && drush cron -q",
	"echo \\", // a trailing backslash escapes nothing
	"echo ünïcode",
	strings.Repeat("x", 1024),
), refuse(
	"",
	"   ",
	"\t",
	"date +%Y",
	"echo 100%",
	"%",
	"echo \\\\%", // an escaped backslash, then a bare %
	"echo a\nb",
	"echo a\rb",
	"echo\n",
	"echo \x00",
	"echo \x1b[2J",
	"echo \x7f",
	strings.Repeat("x", 1025),
)...)

func TestValidateCronCommand(t *testing.T) {
	runNorm(t, checker(model.ValidateCronCommand), cronCommandCases)
}
