package run

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestExamplesUsePublicAPI checks that no file under examples/ imports a
// package under ssl/internal: each example, with this package, must build
// when copied into another module, so it may use the exported API only.
// (The library's own packages use ssl/internal/kernel and ssl/internal/check,
// so those still appear among an example's indirect dependencies.)
func TestExamplesUsePublicAPI(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		n++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == "ssl/internal" || strings.HasPrefix(p, "ssl/internal/") {
				t.Errorf("%s imports %s: examples use the exported API only", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("walked %d Go files under examples/, want the examples' sources", n)
	}
}
