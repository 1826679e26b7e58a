package session

// Dynamic namespaces: namespaces created by the clients that connect to
// them, as Node's io.of(/regex/) or io.of(func) parent namespaces do.

// DynamicNamespaces lets clients connect to namespaces that do not exist
// yet. A CONNECT to an unknown namespace whose name match accepts creates
// it, then setup runs on it once (to add its middleware and handlers)
// before the connection goes through that middleware as usual; a name
// match refuses gets "Invalid namespace". match runs on the connection's
// read path and must return quickly. A namespace created so is removed
// again (its adapter closed) once no socket is connected or connecting to
// it, as Node's cleanupEmptyChildNamespaces does, so refused connections
// leave nothing behind; Namespace keeps it for good. Calling
// DynamicNamespaces again replaces match and setup for the namespaces
// created afterwards; nil match turns dynamic namespaces off.
func (s *Server) DynamicNamespaces(match func(name string) bool, setup func(n *Namespace)) {
	s.mu.Lock()
	s.dynMatch, s.dynSetup = match, setup
	s.mu.Unlock()
}

// LookupNamespace returns the namespace name if it exists (with or
// without its leading slash), or nil. Unlike Namespace it never creates one.
func (s *Server) LookupNamespace(name string) *Namespace {
	if len(name) == 0 || name[0] != '/' {
		name = "/" + name
	}
	return s.namespace(name)
}

// DynamicNamespace returns the namespace name if it exists, else creates
// it as a client's CONNECT does under DynamicNamespaces (match must accept
// the name, and setup runs before any client can connect), else returns
// nil. Code that acts on namespaces for clients (a server API) uses it
// rather than Namespace, which creates a namespace without setup. A
// namespace it creates is removed as those of clients are, once a socket
// that connected to it has gone and none is left.
func (s *Server) DynamicNamespace(name string) *Namespace {
	if len(name) == 0 || name[0] != '/' {
		name = "/" + name
	}
	return s.acquire(name, false)
}

// acquire returns the namespace name, creating it if dynamic namespaces
// admit it, or nil. With ref the caller is a connecting socket, counted
// until release. It waits for a namespace that is being set up, or removed.
func (s *Server) acquire(name string, ref bool) *Namespace {
	for {
		s.mu.Lock()
		n, closing, match := s.nsps[name], s.closing[name], s.dynMatch
		if n != nil && ref {
			n.refs++
		}
		s.mu.Unlock()
		switch {
		case n != nil:
			<-n.ready
			return n
		case closing != nil:
			<-closing // the redis adapter attaches a name only once it is detached
			continue
		case match == nil || len(name) == 0 || name[0] != '/' || !match(name):
			return nil
		}

		s.mu.Lock()
		if s.nsps[name] != nil || s.closing[name] != nil {
			s.mu.Unlock()
			continue // created or removed meanwhile
		}
		setup := s.dynSetup
		n, err := s.createLocked(name)
		if n != nil {
			n.dynamic = true
			if ref {
				n.refs = 1
			}
		}
		s.mu.Unlock()
		if err != nil {
			s.log.Warn("session: cannot create a dynamic namespace", "nsp", name, "err", err)
			return nil
		}
		func() {
			defer close(n.ready) // even if setup panics
			if setup != nil {
				setup(n)
			}
		}()
		return n
	}
}

// release uncounts a socket of n (ref) and removes n if it is dynamic and
// nobody uses it any more.
func (s *Server) release(n *Namespace, ref bool) {
	s.mu.Lock()
	if ref {
		n.refs--
	}
	if !ref || !n.dynamic || n.refs > 0 || s.closed || s.nsps[n.name] != n {
		s.mu.Unlock()
		return
	}
	delete(s.nsps, n.name)
	done := make(chan struct{})
	if s.closing == nil {
		s.closing = make(map[string]chan struct{})
	}
	s.closing[n.name] = done
	s.mu.Unlock()
	closeIt := func() {
		n.adapter.Close()
		s.mu.Lock()
		delete(s.closing, n.name)
		s.mu.Unlock()
		close(done)
	}
	if !s.goWork(closeIt) {
		closeIt()
	}
}
