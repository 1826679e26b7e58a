package redis

import (
	"testing"

	goredis "github.com/redis/go-redis/v9"
)

func TestNewClient(t *testing.T) {
	tests := []struct {
		url     string
		cluster bool
		tls     bool
		user    string
		pass    string
		wantErr bool
	}{
		{url: "redis://127.0.0.1:6379"},
		{url: "redis://alice:secret@127.0.0.1:6379/2", user: "alice", pass: "secret"},
		{url: "rediss://:pw@example.com:6380", tls: true, pass: "pw"},
		{url: "redis://127.0.0.1:7000?cluster=true&addr=127.0.0.1:7001", cluster: true},
		{url: "http://127.0.0.1", wantErr: true},
		{url: "redis://127.0.0.1?bogus=1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			c, err := NewClient(tt.url)
			if tt.wantErr {
				if err == nil {
					c.Close()
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			switch cl := c.(type) {
			case *goredis.ClusterClient:
				if !tt.cluster || len(cl.Options().Addrs) != 2 {
					t.Fatalf("cluster client %v", cl.Options().Addrs)
				}
			case *goredis.Client:
				o := cl.Options()
				if tt.cluster || o.Username != tt.user || o.Password != tt.pass || (o.TLSConfig != nil) != tt.tls {
					t.Fatalf("options %+v", o)
				}
			}
		})
	}
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without Client or URL")
	}
	if _, err := New(Config{URL: "redis://127.0.0.1:1", SubscriptionMode: "bogus"}); err == nil {
		t.Fatal("bad subscription mode accepted")
	}
}

func TestHashSlot(t *testing.T) {
	for key, want := range map[string]int{"foo": 12182, "bar": 5061, "{user1000}.following": 3443, "{user1000}.followers": 3443} {
		if got := hashSlot(key); got != want {
			t.Errorf("hashSlot(%q) = %d, want %d", key, got, want)
		}
	}
}
