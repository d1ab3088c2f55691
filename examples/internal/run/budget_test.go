package run

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestFlagValue(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		name, val string
		found     bool
	}{
		{[]string{"-budget", "30m"}, "budget", "30m", true},
		{[]string{"--budget=1h", "-seed", "2"}, "budget", "1h", true},
		{[]string{"-out", "dir", "-budget=5m", "-budget", "7m"}, "budget", "7m", true},
		{[]string{"-out", "dir"}, "budget", "", false},
		{[]string{"--", "-budget", "3m"}, "budget", "", false},
		{[]string{"-budgetx", "3m"}, "budget", "", false},
	} {
		val, found := flagValue(tc.args, tc.name)
		if val != tc.val || found != tc.found {
			t.Errorf("flagValue(%q, %q) = %q, %v; want %q, %v", tc.args, tc.name, val, found, tc.val, tc.found)
		}
	}
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"-resume"}, true},
		{[]string{"--resume=true", "-out", "x"}, true},
		{[]string{"-resume", "-resume=false"}, false},
		{[]string{"-out", "x"}, false},
	} {
		if got := boolFlag(tc.args, "resume"); got != tc.want {
			t.Errorf("boolFlag(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}

func TestRunWithBudgetErrors(t *testing.T) {
	never := func([]string, io.Writer) error { return errors.New("must not run") }
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-budget", "soon"}, "positive duration"},
		{[]string{"-budget", "-5m"}, "positive duration"},
		{[]string{"-budget", "5m", "-epochs", "3"}, "exclude each other"},
		{[]string{"-budget", "5m", "-resume", "-out", t.TempDir()}, "plan.json"},
	} {
		err := RunWithBudget(never, tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("RunWithBudget(%q) = %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
	ran := false
	if err := RunWithBudget(func([]string, io.Writer) error { ran = true; return nil }, []string{"-seed", "3"}, io.Discard); err != nil || !ran {
		t.Errorf("without -budget: err %v, ran %v; want fn run as is", err, ran)
	}
}
