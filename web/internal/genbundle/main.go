// Command genbundle copies the socket.io-client browser bundle from
// node_modules (installed by `npm ci` from the pinned package-lock.json) into
// web/dist, where package web embeds it. It runs through `go generate ./web`.
//
// It refuses to copy a bundle whose version differs from the lock file's, so a
// stale node_modules is caught at build time instead of being shipped.
//
// The generated files are committed, so that `go build` and `go install` work
// without npm. With -check it writes nothing and fails, naming the files, when
// generating would change web/dist: the test command runs it that way, after
// `npm ci`, so a bundle that no longer matches package-lock.json is caught.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// files are the bundle files served under /socket.io/.
var files = []string{
	"socket.io.js",
	"socket.io.js.map",
	"socket.io.min.js",
	"socket.io.min.js.map",
}

const pkgName = "socket.io-client"

func main() {
	out := flag.String("out", "dist", "directory to write the bundle to")
	root := flag.String("root", "", "directory holding package-lock.json and node_modules (default: nearest parent that has them)")
	check := flag.Bool("check", false, "write nothing; fail if generating would change a file in -out")
	flag.Parse()
	if err := run(*root, *out, *check); err != nil {
		fmt.Fprintln(os.Stderr, "genbundle:", err)
		os.Exit(1)
	}
}

func run(root, out string, check bool) error {
	if root == "" {
		var err error
		if root, err = findRoot(); err != nil {
			return err
		}
	}
	pkgDir := filepath.Join(root, "node_modules", pkgName)
	installed, err := installedVersion(pkgDir)
	if err != nil {
		return fmt.Errorf("%w\n  run `npm ci` in %s (or `make run` / `make test`, which do it)", err, root)
	}
	locked, err := lockedVersion(filepath.Join(root, "package-lock.json"))
	if err != nil {
		return err
	}
	if installed != locked {
		return fmt.Errorf("node_modules has %s %s but package-lock.json pins %s: run `npm ci` in %s",
			pkgName, installed, locked, root)
	}
	want := make(map[string][]byte, len(files)+1)
	for _, name := range files {
		data, err := os.ReadFile(filepath.Join(pkgDir, "dist", name))
		if err != nil {
			return err
		}
		want[name] = data
	}
	want["VERSION"] = []byte(installed + "\n")
	if check {
		var stale []string
		for _, name := range append(files, "VERSION") {
			if old, err := os.ReadFile(filepath.Join(out, name)); err != nil || !bytes.Equal(old, want[name]) {
				stale = append(stale, name)
			}
		}
		if len(stale) > 0 {
			return fmt.Errorf("%s is not what %s %s (package-lock.json) generates: %s differ\n  run `go generate ./web` and commit %s",
				out, pkgName, installed, strings.Join(stale, ", "), out)
		}
		fmt.Fprintf(os.Stderr, "genbundle: %s matches %s %s\n", out, pkgName, installed)
		return nil
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	changed := 0
	for _, name := range append(files, "VERSION") {
		ok, err := writeIfChanged(filepath.Join(out, name), want[name])
		if err != nil {
			return err
		}
		if ok {
			changed++
		}
	}
	fmt.Fprintf(os.Stderr, "genbundle: %s %s -> %s (%d files updated)\n", pkgName, installed, out, changed)
	return nil
}

// findRoot walks up from the working directory to the first directory that
// has a package-lock.json.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "package-lock.json")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no package-lock.json in any parent directory")
		}
		dir = parent
	}
}

func installedVersion(pkgDir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(pkgDir, "package.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s is not installed (%s missing)", pkgName, pkgDir)
	}
	if err != nil {
		return "", err
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(data, &pkg); err != nil || pkg.Version == "" {
		return "", fmt.Errorf("%s/package.json: no version", pkgDir)
	}
	return pkg.Version, nil
}

func lockedVersion(lockFile string) (string, error) {
	data, err := os.ReadFile(lockFile)
	if err != nil {
		return "", err
	}
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(data, &lock); err != nil {
		return "", fmt.Errorf("%s: %w", lockFile, err)
	}
	p, ok := lock.Packages["node_modules/"+pkgName]
	if !ok || p.Version == "" {
		return "", fmt.Errorf("%s does not pin %s", lockFile, pkgName)
	}
	return p.Version, nil
}

// writeIfChanged writes data to name through a temporary file and a rename,
// leaving an identical file untouched. It reports whether it wrote.
func writeIfChanged(name string, data []byte) (bool, error) {
	if old, err := os.ReadFile(name); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), ".genbundle-*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return false, err
	}
	return true, os.Rename(tmp.Name(), name)
}
