// Package conformance runs the reference cases in testdata/vectors, computed
// by the methods' published code, against the library's implementations.
//
// A case is one JSON file: a kind ("losses.ntxent"), inputs, parameters and
// the outputs the method's published code produced for them (FORMAT.md in
// the vectors folder describes the layout). An implementation registers a
// [Runner] per kind; [Run] loads every case of the given folders and runs
// each as the subtest <kind>/<case>. A kind without a runner is skipped with
// a message naming it, never silently passed; a malformed file fails with
// its path; a mismatch fails with the output's name, the worst element's
// index and its absolute and relative error.
//
// The runners that map kinds onto the public API live in this package's test
// files, so library code never imports the harness; package cuda runs the
// same cases through its own runners.
package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"ssl"
)

// Array is a row-major array of a case: float64 values (whole numbers for
// integer arrays) and a shape; a scalar has an empty shape.
type Array struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

// Tolerance is what a float64 implementation must meet on a case.
type Tolerance struct {
	RTol float64 `json:"rtol"`
	ATol float64 `json:"atol"`
}

// Case is one reference case.
type Case struct {
	Kind        string                     `json:"kind"`
	Name        string                     `json:"case"`
	Method      string                     `json:"method"`
	Source      json.RawMessage            `json:"source"`
	Params      map[string]json.RawMessage `json:"params"`
	Inputs      map[string]Array           `json:"inputs"`
	Outputs     map[string]Array           `json:"outputs"`
	Tol         Tolerance                  `json:"tolerance"`
	ExpectError string                     `json:"expect_error"`

	// Path is the file the case was read from.
	Path string `json:"-"`
}

// Runner checks one case of its kind against an implementation: it reads
// the inputs and parameters, calls the implementation and compares its
// results with [Case.Check] and its siblings.
type Runner func(t testing.TB, c *Case)

// Load reads and validates one case file. Errors name the path.
func Load(path string) (*Case, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c := new(Case)
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.Path = path
	if c.Kind == "" || c.Name == "" {
		return nil, fmt.Errorf("%s: missing kind or case name", path)
	}
	for _, set := range []map[string]Array{c.Inputs, c.Outputs} {
		for name, a := range set {
			n := 1
			for _, d := range a.Shape {
				if d < 0 {
					return nil, fmt.Errorf("%s: %s: negative dimension in shape %v", path, name, a.Shape)
				}
				n *= d
			}
			if n != len(a.Data) {
				return nil, fmt.Errorf("%s: %s: shape %v needs %d values, file has %d", path, name, a.Shape, n, len(a.Data))
			}
		}
	}
	if c.ExpectError == "" && len(c.Outputs) == 0 {
		return nil, fmt.Errorf("%s: no outputs and no expect_error", path)
	}
	return c, nil
}

// Dirs returns the folders the conformance test runs: the given default
// folder followed by every folder named in the colon-separated environment
// variable SSL_VECTORS.
func Dirs(def string) []string {
	dirs := []string{def}
	for _, d := range strings.Split(os.Getenv("SSL_VECTORS"), ":") {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// Files returns every case file (*.json) under the given folders, sorted.
func Files(dirs ...string) ([]string, error) {
	var files []string
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(path, ".json") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(files)
	return files, nil
}

// Run runs every case under dirs as the subtest <kind>/<case>.
func Run(t *testing.T, runners map[string]Runner, dirs ...string) {
	t.Helper()
	files, err := Files(dirs...)
	if err != nil {
		t.Fatalf("conformance: %v", err)
	}
	if len(files) == 0 {
		t.Fatalf("conformance: no case files under %v", dirs)
	}
	for _, path := range files {
		c, err := Load(path)
		if err != nil {
			name := strings.TrimSuffix(filepath.Base(path), ".json")
			t.Run("malformed/"+name, func(t *testing.T) { t.Errorf("conformance: malformed case: %v", err) })
			continue
		}
		t.Run(c.Kind+"/"+c.Name, func(t *testing.T) { RunCase(t, runners, c) })
	}
}

// RunCase runs one case through the runner registered for its kind, or
// skips it, naming the kind, when there is none.
func RunCase(t testing.TB, runners map[string]Runner, c *Case) {
	t.Helper()
	r, ok := runners[c.Kind]
	if !ok {
		t.Skipf("kind %s has no implementation yet (%s)", c.Kind, c.Path)
		return
	}
	r(t, c)
}

// In returns the input called name; a missing input fails t.
func (c *Case) In(t testing.TB, name string) Array {
	t.Helper()
	a, ok := c.Inputs[name]
	if !ok {
		t.Fatalf("%s: no input %q (have %v)", c.Path, name, keys(c.Inputs))
	}
	return a
}

// Has reports whether the case has an input called name.
func (c *Case) Has(name string) bool { _, ok := c.Inputs[name]; return ok }

// HasOut reports whether the case has an output called name.
func (c *Case) HasOut(name string) bool { _, ok := c.Outputs[name]; return ok }

// Out returns the output called name; a missing output fails t.
func (c *Case) Out(t testing.TB, name string) Array {
	t.Helper()
	a, ok := c.Outputs[name]
	if !ok {
		t.Fatalf("%s: no output %q (have %v)", c.Path, name, keys(c.Outputs))
	}
	return a
}

// Tensor returns the input called name as a float32 tensor of its shape (a
// scalar becomes a tensor of shape [1]).
func (c *Case) Tensor(t testing.TB, name string) *tensor.Dense {
	t.Helper()
	a := c.In(t, name)
	shape := a.Shape
	if len(shape) == 0 {
		shape = []int{1}
	}
	d := make([]float32, len(a.Data))
	for i, v := range a.Data {
		d[i] = float32(v)
	}
	return ssl.FromSlice(d, shape...)
}

// Ints returns the input called name as ints; a value that is not a whole
// number fails t.
func (c *Case) Ints(t testing.TB, name string) []int {
	t.Helper()
	a := c.In(t, name)
	out := make([]int, len(a.Data))
	for i, v := range a.Data {
		if v != math.Trunc(v) {
			t.Fatalf("%s: input %s[%d] = %v is not an integer", c.Path, name, i, v)
		}
		out[i] = int(v)
	}
	return out
}

// HasParam reports whether the case sets the parameter.
func (c *Case) HasParam(name string) bool { _, ok := c.Params[name]; return ok }

// Param decodes the parameter called name into v; a missing or mistyped
// parameter fails t.
func (c *Case) Param(t testing.TB, name string, v any) {
	t.Helper()
	raw, ok := c.Params[name]
	if !ok {
		t.Fatalf("%s: no parameter %q (have %v)", c.Path, name, keys(c.Params))
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: parameter %s: %v", c.Path, name, err)
	}
}

// Float returns a numeric parameter.
func (c *Case) Float(t testing.TB, name string) float64 {
	t.Helper()
	var v float64
	c.Param(t, name, &v)
	return v
}

// Int returns an integer parameter.
func (c *Case) Int(t testing.TB, name string) int {
	t.Helper()
	v := c.Float(t, name)
	if v != math.Trunc(v) {
		t.Fatalf("%s: parameter %s = %v is not an integer", c.Path, name, v)
	}
	return int(v)
}

// Bool returns a boolean parameter.
func (c *Case) Bool(t testing.TB, name string) bool {
	t.Helper()
	var v bool
	c.Param(t, name, &v)
	return v
}

// String returns a string parameter.
func (c *Case) String(t testing.TB, name string) string {
	t.Helper()
	var v string
	c.Param(t, name, &v)
	return v
}

// Float32Tol returns the tolerance a float32 result must meet on the output
// want: the file's own, widened to FORMAT.md's float32 rule
// |got − want| ≤ 1e-4·|want| + 1e-5·max|want|.
func (c *Case) Float32Tol(want []float64) (atol, rtol float64) {
	scale := 0.0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(v))
	}
	return math.Max(c.Tol.ATol, 1e-5*scale), math.Max(c.Tol.RTol, 1e-4)
}

// Check compares got with the output called name at the float32 tolerance
// (see [Case.Float32Tol]) and fails t at the worst element.
func (c *Case) Check(t testing.TB, name string, got []float64) {
	t.Helper()
	want := c.Out(t, name).Data
	atol, rtol := c.Float32Tol(want)
	c.CheckTol(t, name, got, atol, rtol)
}

// Check32 is [Case.Check] for a float32 result.
func (c *Case) Check32(t testing.TB, name string, got []float32) {
	t.Helper()
	g := make([]float64, len(got))
	for i, v := range got {
		g[i] = float64(v)
	}
	c.Check(t, name, g)
}

// CheckTol compares got with the output called name at an explicit
// tolerance |got − want| ≤ atol + rtol·|want| and fails t at the worst
// element. Use it only where the kind's KINDS file documents a wider one.
func (c *Case) CheckTol(t testing.TB, name string, got []float64, atol, rtol float64) {
	t.Helper()
	if err := Compare(got, c.Out(t, name).Data, atol, rtol); err != nil {
		t.Errorf("%s: output %s: %v", c.Path, name, err)
	}
}

// CheckExact compares got with the integer output called name exactly.
func (c *Case) CheckExact(t testing.TB, name string, got []int) {
	t.Helper()
	want := c.Out(t, name).Data
	if len(got) != len(want) {
		t.Errorf("%s: output %s: len %d, want %d", c.Path, name, len(got), len(want))
		return
	}
	for i := range want {
		if float64(got[i]) != want[i] {
			t.Errorf("%s: output %s[%d] = %d, want %v", c.Path, name, i, got[i], want[i])
			return
		}
	}
}

// CheckError fails t unless the case expects an error and err is one.
func (c *Case) CheckError(t testing.TB, err error) {
	t.Helper()
	if c.ExpectError == "" {
		t.Fatalf("%s: CheckError on a case that expects no error", c.Path)
	}
	if err == nil {
		t.Errorf("%s: got no error, the reference raised %q", c.Path, c.ExpectError)
	}
}

// ErrMismatch is wrapped by the error Compare returns.
var ErrMismatch = errors.New("mismatch")

// Compare returns nil if |got[i] − want[i]| ≤ atol + rtol·|want[i]| for
// every i, and otherwise an error wrapping [ErrMismatch] that names the
// worst element's index, both values and its absolute and relative error.
// NaN never passes.
func Compare(got, want []float64, atol, rtol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("len %d, want %d: %w", len(got), len(want), ErrMismatch)
	}
	worst, excess := -1, 0.0
	for i := range want {
		if got[i] == want[i] {
			continue
		}
		e := math.Abs(got[i]-want[i]) - (atol + rtol*math.Abs(want[i]))
		if math.IsNaN(e) {
			worst = i
			break
		}
		if e > excess {
			worst, excess = i, e
		}
	}
	if worst < 0 {
		return nil
	}
	abs := math.Abs(got[worst] - want[worst])
	rel := abs / math.Abs(want[worst])
	return fmt.Errorf("worst element [%d] = %.9g, want %.9g: abs err %.3g, rel err %.3g (atol %.3g, rtol %.3g): %w",
		worst, got[worst], want[worst], abs, rel, atol, rtol, ErrMismatch)
}

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
