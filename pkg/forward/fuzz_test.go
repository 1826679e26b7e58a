package forward

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// FuzzVerify feeds the owner's check of forwarded requests arbitrary
// headers and bodies: it must never panic, must refuse whatever it did not
// sign, and must accept, with its body and client address intact, what it
// signed (sign set).
func FuzzVerify(f *testing.F) {
	f.Add("POST", "/socket.io/?EIO=4&transport=polling&sid=AAAAAAAA.x", "1764619200000", "10.0.0.1:5000", "", "4hello", true)
	f.Add("GET", "/socket.io/?EIO=4&transport=websocket&sid=AAAAAAAA.x", "1764619200000", "[::1]:1", "", "", true)
	f.Add("POST", "/socket.io/?sid=x", "1764619200000", "a", "AAAA", "4x", false)
	f.Add("GET", "/", "-1", "", "!!", "", false)
	f.Add("POST", "/socket.io/?sid=x", "99999999999999999999", "a", strings.Repeat("A", 43), "", false)
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"}) // never dialled
	defer rdb.Close()
	n, err := New(Config{Redis: rdb, Secret: testSecret, MaxBodyBytes: 64})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, uri, ts, client, sig, body string, sign bool) {
		r, err := http.NewRequest(method, "http://node"+uri, strings.NewReader(body))
		if err != nil || len(body) > 65 {
			return
		}
		now := time.UnixMilli(1764619200000)
		if sign {
			n.sign(r.Header, r.Method, r.URL.RequestURI(), r.Host, client, now, []byte(body))
		} else {
			r.Header[HeaderTime] = []string{ts}
			r.Header[HeaderClient] = []string{client}
			r.Header[HeaderSignature] = []string{sig}
		}
		fr, _, ok := n.verify(r, now)
		if ok != (sign && client != "") {
			t.Fatalf("verify = %v for signed=%v client=%q", ok, sign, client)
		}
		if !ok {
			return
		}
		got, _ := io.ReadAll(fr.Body)
		if !bytes.Equal(got, []byte(body)) || fr.RemoteAddr != client || fr.Header.Get(HeaderSignature) != "" || !isForwarded(fr.Context()) {
			t.Fatalf("served %q from %q, headers %v", got, fr.RemoteAddr, fr.Header)
		}
	})
}

func FuzzOwnerOf(f *testing.F) {
	for _, s := range []string{"AbCd-_12.xxxxxxxxxxxxxxxxxxxx", "", ".", "xxxxxxxx.", "é.é", "AbCd-_12.x.y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sid string) {
		id, ok := ownerOf(sid)
		if ok && (len(id) != idLen || !strings.HasPrefix(sid, id+idSep)) {
			t.Fatalf("ownerOf(%q) = %q", sid, id)
		}
	})
}
