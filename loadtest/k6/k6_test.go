// Package k6_test checks the k6 scripts in this directory without k6: it runs
// check/check-protocol.mjs under Node (codec against socket.io-parser, then
// the main script for a few VUs against an in-process server).
package k6_test

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sockgate/sockgate/loadtest/internal/fakeserver"
)

func TestScriptsUnderNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	if _, err := os.Stat(filepath.Join("..", "..", "node_modules", "socket.io-parser")); err != nil {
		t.Skip("node_modules not installed (npm ci)")
	}
	fs := &fakeserver.Server{PingInterval: 300 * time.Millisecond}
	srv := httptest.NewServer(fs)
	defer func() { srv.Close(); fs.Wait() }()

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("check", "check-protocol.mjs"))
	cmd.Env = append(os.Environ(), "TARGET="+srv.URL, "VUS=3")
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatal(err)
	}
}
