package session

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestDynamicNamespaces(t *testing.T) {
	s := newTestServer(t, Config{})
	setups := make(chan string, 10)
	s.DynamicNamespaces(func(name string) bool { return strings.HasPrefix(name, "/room-") }, func(n *Namespace) {
		setups <- n.Name()
		n.Use(func(so *Socket) error {
			if string(so.Handshake().Auth) != `{"ok":true}` {
				return errors.New("refused by setup's middleware")
			}
			return nil
		})
	})

	tests := []struct{ name, send, want string }{
		{"not matched", `0/other,{"ok":true}`, `44/other,{"message":"Invalid namespace"}`},
		{"matched, middleware refuses", `0/room-1,`, `44/room-1,{"message":"refused by setup's middleware"}`},
		{"matched, accepted", `0/room-1,{"ok":true}`, `40/room-1,{"sid":"`},
		{"second namespace", `0/room-2,{"ok":true}`, `40/room-2,{"sid":"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, s)
			c.recv(tt.send)
			c.expectPrefix(t, tt.want)
		})
	}
	// Created for the server (an API), a namespace is set up before any
	// client connects to it.
	if s.DynamicNamespace("room-api") == nil {
		t.Fatal("DynamicNamespace did not create /room-api")
	}
	c0 := dial(t, s)
	c0.recv(`0/room-api,`)
	c0.expect(t, `44/room-api,{"message":"refused by setup's middleware"}`)
	if s.DynamicNamespace("/other") != nil {
		t.Error("DynamicNamespace created a name match refuses")
	}

	close(setups)
	var got []string
	for n := range setups {
		got = append(got, n)
	}
	if strings.Join(got, " ") != "/room-1 /room-2 /room-api" {
		t.Errorf("setup ran for %v, want once per created namespace", got)
	}
	if s.LookupNamespace("other") != nil || s.LookupNamespace("room-1") == nil {
		t.Error("LookupNamespace: want room-1 only")
	}

	// Off again: existing namespaces stay, new ones are refused.
	s.DynamicNamespaces(nil, nil)
	c := dial(t, s)
	c.recv(`0/room-3,{"ok":true}`)
	c.expect(t, `44/room-3,{"message":"Invalid namespace"}`)
	c.recv(`0/room-1,{"ok":true}`)
	c.expectPrefix(t, `40/room-1,{"sid":"`)
}

func TestSocketUserAndValues(t *testing.T) {
	s := newTestServer(t, Config{})
	type key struct{}
	s.Use(func(so *Socket) error {
		so.SetUser("42")
		so.SetValue(key{}, "claims")
		so.SetData(map[string]int{"n": 1})
		return nil
	})
	got := make(chan [2]any, 1)
	s.OnConnection(func(so *Socket) { got <- [2]any{so.User(), so.Value(key{})} })
	c := dial(t, s)
	connect(t, c, "/")
	if v := <-got; v[0] != "42" || v[1] != "claims" {
		t.Fatalf("User, Value = %v", v)
	}
	infos, err := s.Sockets().FetchSockets(context.Background())
	if err != nil || len(infos) != 1 {
		t.Fatalf("FetchSockets = %v, %v", infos, err)
	}
	if infos[0].User != "42" || string(infos[0].Data) != `{"n":1}` {
		t.Errorf("FetchSockets: user %q, data %s", infos[0].User, infos[0].Data)
	}
}
