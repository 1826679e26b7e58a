package session

// Dynamic namespaces: namespaces created by the clients that connect to
// them, as Node's io.of(/regex/) or io.of(func) parent namespaces do.

// DynamicNamespaces lets clients connect to namespaces that do not exist
// yet. A CONNECT to an unknown namespace whose name match accepts creates
// it, then setup runs on it once (to add its middleware and handlers)
// before the connection goes through that middleware as usual; a name
// match refuses gets "Invalid namespace". match runs on the connection's
// read path and must return quickly. A namespace so created stays, as in
// Node's socket.io by default: bound their number in match. Calling it
// again replaces match and setup for the namespaces created afterwards;
// nil match turns dynamic namespaces off.
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
// rather than Namespace, which creates a namespace without setup.
func (s *Server) DynamicNamespace(name string) *Namespace {
	if len(name) == 0 || name[0] != '/' {
		name = "/" + name
	}
	if n := s.namespace(name); n != nil {
		return n
	}
	return s.dynamicNamespace(name)
}

// dynamicNamespace returns the namespace a client may create by
// connecting to it, or nil.
func (s *Server) dynamicNamespace(name string) *Namespace {
	s.mu.RLock()
	match, setup := s.dynMatch, s.dynSetup
	s.mu.RUnlock()
	if match == nil || len(name) == 0 || name[0] != '/' || !match(name) {
		return nil
	}
	n, created, err := s.namespaceCreated(name)
	if err != nil {
		s.log.Warn("session: cannot create a dynamic namespace", "nsp", name, "err", err)
		return nil
	}
	if created {
		func() {
			defer close(n.ready) // even if setup panics
			if setup != nil {
				setup(n)
			}
		}()
	}
	return n
}
