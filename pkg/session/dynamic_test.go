package session

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestDynamicNamespaces(t *testing.T) {
	s := newTestServer(t, Config{})
	var setups atomic.Int32
	s.DynamicNamespaces(func(name string) bool { return strings.HasPrefix(name, "/room-") }, func(n *Namespace) {
		setups.Add(1)
		n.Use(func(so *Socket) error {
			if string(so.Handshake().Auth) != `{"ok":true}` {
				return errors.New("refused by setup's middleware")
			}
			return nil
		})
	})
	gone := func(name string) {
		t.Helper()
		waitFor(t, name+" to be removed", func() bool { return s.LookupNamespace(name) == nil })
	}

	c := dial(t, s)
	c.recv(`0/other,{"ok":true}`)
	c.expect(t, `44/other,{"message":"Invalid namespace"}`)

	// A refused connection leaves no namespace behind.
	c.recv(`0/room-1,`)
	c.expect(t, `44/room-1,{"message":"refused by setup's middleware"}`)
	gone("/room-1")
	if n := s.Stats().Namespaces; n != 1 {
		t.Fatalf("%d namespaces after a refusal, want 1", n)
	}

	// Accepted: it exists while a socket is there, and goes with the last.
	c.recv(`0/room-1,{"ok":true}`)
	c.expectPrefix(t, `40/room-1,{"sid":"`)
	c2 := dial(t, s)
	c2.recv(`0/room-1,{"ok":true}`)
	c2.expectPrefix(t, `40/room-1,{"sid":"`)
	if s.LookupNamespace("room-1") == nil {
		t.Fatal("LookupNamespace: no /room-1 while sockets are connected")
	}
	c.recv(`1/room-1,`)
	if s.LookupNamespace("room-1") == nil {
		t.Fatal("/room-1 removed while a socket is connected")
	}
	c2.Close("transport close")
	gone("/room-1")
	if n := setups.Load(); n != 2 {
		t.Errorf("setup ran %d times, want once per creation (2)", n)
	}

	// Created for the server (an API), a namespace is set up before any
	// client connects to it.
	if s.DynamicNamespace("room-api") == nil {
		t.Fatal("DynamicNamespace did not create /room-api")
	}
	c3 := dial(t, s)
	c3.recv(`0/room-api,`)
	c3.expect(t, `44/room-api,{"message":"refused by setup's middleware"}`)
	if s.DynamicNamespace("/other") != nil {
		t.Error("DynamicNamespace created a name match refuses")
	}

	// Namespace keeps a dynamic namespace for good.
	c3.recv(`0/room-2,{"ok":true}`)
	c3.expectPrefix(t, `40/room-2,{"sid":"`)
	s.Of("/room-2")
	c3.recv(`1/room-2,`)

	// Off again: existing namespaces stay, new ones are refused.
	s.DynamicNamespaces(nil, nil)
	c4 := dial(t, s)
	c4.recv(`0/room-3,{"ok":true}`)
	c4.expect(t, `44/room-3,{"message":"Invalid namespace"}`)
	c4.recv(`0/room-2,{"ok":true}`)
	c4.expectPrefix(t, `40/room-2,{"sid":"`)
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

// TestDynamicNamespaceChurn connects and disconnects clients of one
// dynamic namespace concurrently: each connects (the namespace is never
// found half removed), and the namespace is gone at the end.
func TestDynamicNamespaceChurn(t *testing.T) {
	s := newTestServer(t, Config{})
	s.DynamicNamespaces(func(string) bool { return true }, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 25 {
				c := dial(t, s)
				c.recv(`0/churn,`)
				c.expectPrefix(t, `40/churn,{"sid":"`)
				c.recv(`1/churn,`)
				c.Close("transport close")
			}
		})
	}
	wg.Wait()
	waitFor(t, "/churn to be removed", func() bool { return s.LookupNamespace("/churn") == nil })
}

// TestDynamicNamespaceRefusedAtLimit: a CONNECT refused at MaxNamespaces
// leaves no dynamic namespace behind.
func TestDynamicNamespaceRefusedAtLimit(t *testing.T) {
	s := newTestServer(t, Config{MaxNamespaces: 1})
	s.DynamicNamespaces(func(name string) bool { return strings.HasPrefix(name, "/dyn-") }, nil)
	c := dial(t, s)
	connect(t, c, "/")
	c.recv(`0/dyn-1,`)
	c.expect(t, `44/dyn-1,{"message":"Too many namespaces"}`)
	waitFor(t, "/dyn-1 to be removed", func() bool { return s.LookupNamespace("/dyn-1") == nil })
	if n := s.Stats().Namespaces; n != 1 {
		t.Errorf("%d namespaces after a refusal at the limit, want 1", n)
	}
}
