package web

import (
	"net/http"
	"strings"
	"testing"
)

func TestDemo(t *testing.T) {
	h := Demo()
	tests := []struct {
		path, status, contentType, contains string
	}{
		{"/", "200", "text/html", `<script src="/socket.io/socket.io.js"></script>`},
		{"/app.js", "200", "text/javascript", `io.connect("/", { path: `},
		{"/style.css", "200", "text/css", "#messages"},
		{"/nope", "404", "", ""},
		{"/static/index.html", "404", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp := do(t, h, "GET", tt.path, nil)
			if got := resp.Status[:3]; got != tt.status {
				t.Fatalf("status %s, want %s", got, tt.status)
			}
			if tt.status != "200" {
				return
			}
			if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, tt.contentType) {
				t.Errorf("Content-Type %q, want %s", got, tt.contentType)
			}
			if resp.Header.Get("Content-Security-Policy") == "" {
				t.Error("no Content-Security-Policy")
			}
			if got := body(t, resp); !strings.Contains(got, tt.contains) {
				t.Errorf("body lacks %q", tt.contains)
			}
		})
	}
	if resp := do(t, h, "POST", "/", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: status %d, want 405", resp.StatusCode)
	}
}

func TestDemoForPath(t *testing.T) {
	resp := do(t, DemoFor("/rt/"), "GET", "/", nil)
	if got := body(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(got, `<script src="/rt/socket.io.js"></script>`) ||
		strings.Contains(got, "/socket.io/") {
		t.Fatalf("status %d, body:\n%s", resp.StatusCode, got)
	}
}

// TestDemoNoInnerHTML guards the demo's rule that messages are text only.
func TestDemoNoInnerHTML(t *testing.T) {
	data, err := staticFS.ReadFile("static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"} {
		if strings.Contains(string(data), bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
}
