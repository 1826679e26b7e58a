package adapter

import (
	"iter"
	"slices"
	"sync"
)

// roomShards is the number of independently locked parts of a Rooms index.
// Sockets are spread over them by a hash of their ID, so joins and leaves of
// different sockets rarely contend, and a socket's rooms all live in one
// shard (which makes "each socket once" a per-shard question).
const roomShards = 32

// Rooms is the room index of one namespace's local sockets: room -> members
// and socket -> rooms. It is the local part of every adapter: the memory
// adapter is little more than a Rooms, and the Redis adapter embeds one for
// the sockets of its own node. Its method names match Namespace (AddAll, Del,
// DelAll, SocketRooms), so embedding a *Rooms implements those four.
//
// Sockets are known by their ID (one Socket value per ID): SocketRooms, Del
// and DelAll accept any Socket with the same ID. A socket is listed while it is in at least one room; the session layer puts
// every socket in the room named after its ID when it connects and removes it
// from all rooms (DelAll) when it disconnects.
//
// All methods may be called concurrently. Select holds a shard's read lock
// only while it copies that shard's recipients, never while it yields them,
// so the consumer of a Select may call back into the index.
//
// The zero value is an empty index without a change hook.
type Rooms struct {
	shards [roomShards]roomShard

	// mu guards count and serializes onChange calls. Lock order: a shard's
	// mu, then mu.
	mu       sync.Mutex
	count    map[string]int // room -> number of shards where it has members
	onChange func(room string, created bool)
}

// member is a socket of the index and its rooms, in join order.
type member struct {
	s     Socket
	rooms []string
}

type roomShard struct {
	mu      sync.RWMutex
	rooms   map[string]members
	sockets map[string]*member // by socket ID
	_       [64]byte           // keep shards on separate cache lines
}

// NewRooms returns an empty index. onChange, if not nil, is called when a
// room gets its first local member (created true) and when it loses its last
// one (created false), e.g. to subscribe to a room channel only while the
// room has members here. Calls are serialized and ordered per room; they run
// with the index locked, so onChange must be quick and must not call back
// into the index.
func NewRooms(onChange func(room string, created bool)) *Rooms {
	return &Rooms{onChange: onChange}
}

// members is the set of a room's sockets in one shard. Most rooms are a
// socket's own ID room, with one member for the socket's whole life: that
// member is held inline, and a map is made only for a second one.
type members struct {
	one  Socket              // the only member, while many is nil
	many map[Socket]struct{} // every member, once there were two
}

func (m *members) has(s Socket) bool {
	if m.many != nil {
		_, ok := m.many[s]
		return ok
	}
	return m.one != nil && m.one == s
}

// add adds s, which must not be a member.
func (m *members) add(s Socket) {
	switch {
	case m.many != nil:
		m.many[s] = struct{}{}
	case m.one == nil:
		m.one = s
	default:
		m.many = map[Socket]struct{}{m.one: {}, s: {}}
		m.one = nil
	}
}

func (m *members) del(s Socket) {
	if m.many != nil {
		delete(m.many, s)
	} else if m.one == s {
		m.one = nil
	}
}

func (m *members) empty() bool {
	if m.many != nil {
		return len(m.many) == 0
	}
	return m.one == nil
}

// all yields the members, in no particular order.
func (m *members) all(yield func(Socket) bool) {
	if m.many == nil {
		if m.one != nil {
			yield(m.one)
		}
		return
	}
	for s := range m.many {
		if !yield(s) {
			return
		}
	}
}

func (r *Rooms) shard(id string) *roomShard {
	// FNV-1a over the ID.
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return &r.shards[h%roomShards]
}

// roomChanged records that room appeared in or vanished from one shard.
// The caller holds that shard's lock.
func (r *Rooms) roomChanged(room string, added bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.count == nil {
		r.count = make(map[string]int)
	}
	n := r.count[room]
	if added {
		r.count[room] = n + 1
		if n == 0 && r.onChange != nil {
			r.onChange(room, true)
		}
		return
	}
	if n <= 1 {
		delete(r.count, room)
		if r.onChange != nil {
			r.onChange(room, false)
		}
		return
	}
	r.count[room] = n - 1
}

// AddAll adds s to rooms.
func (r *Rooms) AddAll(s Socket, rooms ...string) {
	id := s.ID()
	sh := r.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.rooms == nil {
		sh.rooms = make(map[string]members)
		sh.sockets = make(map[string]*member)
	}
	m := sh.sockets[id]
	if m == nil {
		m = &member{s: s}
	}
	sh.addLocked(r, m, id, rooms)
}

// AddAllIfPresent adds s to rooms only if s is in the index. Every
// connected socket is (in its own ID room), so this is AddAll for the
// sockets that a bulk or remote operation selected earlier: one that
// disconnected (DelAll) since is not brought back.
func (r *Rooms) AddAllIfPresent(s Socket, rooms ...string) {
	id := s.ID()
	sh := r.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if m := sh.sockets[id]; m != nil {
		sh.addLocked(r, m, id, rooms)
	}
}

// addLocked adds m, the member of sh with ID id, to rooms; sh.mu is held
// and the maps exist.
func (sh *roomShard) addLocked(r *Rooms, m *member, id string, rooms []string) {
	s := m.s
	for _, room := range rooms {
		ms, ok := sh.rooms[room]
		if ms.has(s) {
			continue
		}
		ms.add(s)
		sh.rooms[room] = ms
		if !ok {
			r.roomChanged(room, true)
		}
		m.rooms = append(m.rooms, room)
	}
	if len(m.rooms) > 0 {
		sh.sockets[id] = m
	}
}

// Del removes s from room.
func (r *Rooms) Del(s Socket, room string) {
	id := s.ID()
	sh := r.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	m := sh.sockets[id]
	if m == nil {
		return
	}
	i := slices.Index(m.rooms, room)
	if i < 0 {
		return
	}
	sh.delMember(r, m.s, room)
	m.rooms = slices.Delete(m.rooms, i, i+1)
	if len(m.rooms) == 0 {
		delete(sh.sockets, id)
	}
}

// DelAll removes s from every room.
func (r *Rooms) DelAll(s Socket) {
	id := s.ID()
	sh := r.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	m := sh.sockets[id]
	if m == nil {
		return
	}
	for _, room := range m.rooms {
		sh.delMember(r, m.s, room)
	}
	delete(sh.sockets, id)
}

func (sh *roomShard) delMember(r *Rooms, s Socket, room string) {
	ms := sh.rooms[room]
	ms.del(s)
	if ms.empty() {
		delete(sh.rooms, room)
		r.roomChanged(room, false)
		return
	}
	sh.rooms[room] = ms
}

// SocketRooms returns a copy of the rooms of s, in join order (nil if none).
func (r *Rooms) SocketRooms(s Socket) []string {
	id := s.ID()
	sh := r.shard(id)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if m := sh.sockets[id]; m != nil {
		return slices.Clone(m.rooms)
	}
	return nil
}

// Socket returns the socket with the given ID, if it is in the index.
func (r *Rooms) Socket(id string) (Socket, bool) {
	sh := r.shard(id)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if m := sh.sockets[id]; m != nil {
		return m.s, true
	}
	return nil, false
}

// HasRoom reports whether room has at least one local member.
func (r *Rooms) HasRoom(room string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count[room] > 0
}

// Names lists the rooms that have local members (socket ID rooms included),
// in no particular order.
func (r *Rooms) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.count))
	for room := range r.count {
		names = append(names, room)
	}
	return names
}

// Len returns the number of sockets in at least one room.
func (r *Rooms) Len() int {
	n := 0
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.RLock()
		n += len(sh.sockets)
		sh.mu.RUnlock()
	}
	return n
}

// selectBufs recycles the per-shard recipient buffers of Select.
var selectBufs = sync.Pool{New: func() any { return new([]Socket) }}

// Select yields the sockets that opts selects (see Options): the union of
// the members of opts.Rooms, or every socket when there are none, each
// socket once, minus the members of any opts.Except room. Flags are ignored.
//
// The sequence may be iterated more than once; each iteration reads the
// index anew, one shard at a time, so it is not an atomic snapshot.
func (r *Rooms) Select(opts Options) iter.Seq[Socket] {
	return func(yield func(Socket) bool) {
		bp := selectBufs.Get().(*[]Socket)
		buf := (*bp)[:0]
		defer func() {
			clear(buf[:cap(buf)])
			*bp = buf[:0]
			selectBufs.Put(bp)
		}()
		for i := range r.shards {
			sh := &r.shards[i]
			sh.mu.RLock()
			buf = sh.appendSelected(buf[:0], opts.Rooms, opts.Except)
			sh.mu.RUnlock()
			for _, s := range buf {
				if !yield(s) {
					return
				}
			}
		}
	}
}

// Collect returns the sockets Select(opts) yields, as a new slice.
func (r *Rooms) Collect(opts Options) []Socket {
	return slices.Collect(r.Select(opts))
}

func (sh *roomShard) appendSelected(dst []Socket, rooms, except []string) []Socket {
	// Look the except rooms up once per shard, not once per candidate: most
	// shards hold none of them (socket.broadcast excepts one socket's room).
	var excBuf [4]members
	exc := excBuf[:0]
	for _, room := range except {
		if ms, ok := sh.rooms[room]; ok {
			exc = append(exc, ms)
		}
	}
	if len(rooms) == 0 {
		for _, m := range sh.sockets {
			if !inAnyOf(m.s, exc) {
				dst = append(dst, m.s)
			}
		}
		return dst
	}
	for i, room := range rooms {
		ms := sh.rooms[room]
		for s := range ms.all {
			// Each socket once: skip members of a room already walked.
			if sh.inAny(s, rooms[:i]) || inAnyOf(s, exc) {
				continue
			}
			dst = append(dst, s)
		}
	}
	return dst
}

func inAnyOf(s Socket, sets []members) bool {
	for i := range sets {
		if sets[i].has(s) {
			return true
		}
	}
	return false
}

func (sh *roomShard) inAny(s Socket, rooms []string) bool {
	for _, room := range rooms {
		if ms := sh.rooms[room]; ms.has(s) {
			return true
		}
	}
	return false
}
