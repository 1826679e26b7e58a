package transport

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"
	"time"
)

func TestRequestKeepsHandshake(t *testing.T) {
	tests := []struct {
		name      string
		target    string
		header    http.Header
		wantHead  http.Header
		wantQuery url.Values
	}{
		{
			name:      "plain",
			target:    "/socket.io/?EIO=4&transport=websocket",
			header:    http.Header{"User-Agent": {"test"}, "Origin": {"http://a"}},
			wantHead:  http.Header{"User-Agent": {"test"}, "Origin": {"http://a"}},
			wantQuery: url.Values{"EIO": {"4"}, "transport": {"websocket"}},
		},
		{
			name:      "repeated values, colons in values, empty value",
			target:    "/socket.io/?EIO=4&a=1&a=2&b=",
			header:    http.Header{"X-Multi": {"1", "2"}, "X-Url": {"http://h:80/p"}, "X-Empty": {""}},
			wantHead:  http.Header{"X-Multi": {"1", "2"}, "X-Url": {"http://h:80/p"}, "X-Empty": {""}},
			wantQuery: url.Values{"EIO": {"4"}, "a": {"1", "2"}, "b": {""}},
		},
		{
			name:      "non-canonical names, newline and colon smuggling dropped",
			target:    "/socket.io/",
			header:    http.Header{"x-lower": {"v"}, "X-Bad": {"a\nEvil:1"}, "Bad:Name": {"v"}},
			wantHead:  http.Header{"X-Lower": {"v"}},
			wantQuery: url.Values{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tt.target, nil)
			r.Header = tt.header
			at := time.Unix(1700000000, 0)
			req := NewRequest(r, at)
			if got := req.Header(); !reflect.DeepEqual(got, tt.wantHead) {
				t.Errorf("Header() = %q, want %q", got, tt.wantHead)
			}
			if got := req.Query(); !reflect.DeepEqual(got, tt.wantQuery) {
				t.Errorf("Query() = %q, want %q", got, tt.wantQuery)
			}
			if req.URL != tt.target || !req.Time.Equal(at) || req.RemoteAddr != r.RemoteAddr {
				t.Errorf("got %+v", req)
			}
			if req.XDomain != (tt.header.Get("Origin") != "") {
				t.Errorf("XDomain = %v", req.XDomain)
			}
		})
	}
}
