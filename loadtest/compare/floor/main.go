//go:build linux

// Command floor is the comparison's measuring stick: the least work a server
// can do for loadgen's scenarios on this kernel. It is not a Socket.IO server.
//
// One thread runs one epoll loop on raw syscalls (no Go netpoller, no
// goroutine per connection, no net/http). It understands exactly the traffic
// loadgen sends over a websocket and nothing else:
//
//   - GET /healthz and GET /metrics (a sockgate_sockets gauge), then close;
//   - GET /socket.io/?EIO=4&transport=websocket with an Upgrade: the 101, the
//     Engine.IO open packet, a ping every -ping-interval;
//   - Socket.IO CONNECT to "/" (answered with a fixed-shape CONNECT);
//   - the events join (the connection joins the one room there is), message
//     (the frame is built once, copied to every local member, and its bytes
//     published once on one Redis channel, which every floor process of the
//     run subscribes to) and echo (its arguments come back in the ack), acked
//     when an ack id is given.
//
// Syscalls are the cost that matters, so the loop does as few as the traffic
// allows: one epoll_wait per round, one read(2) per readable connection, and
// one write(2) per connection per round. What a round produces for a
// connection (acks, echo replies, every message that the Redis reads and
// the local publishers of that round brought) is gathered in its output
// buffer and written once, after every ready event of the round has been
// handled, as are the round's PUBLISH commands to Redis. It never waits to
// gather more: under light load each frame still goes out in its own write,
// under heavy load the rounds grow and so do the batches.
//
// Frames are expected whole and unfragmented, as loadgen sends them; anything
// else closes the connection. Redis is spoken over two plain RESP connections
// in the same loop: one publishes without waiting for replies, one
// subscribes. Flags -addr and -redis-url have the gateway's names so that
// loadtest/compare/run.sh can start it in its place.
package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

type state uint8

const (
	stateHTTP state = iota
	stateWS
)

type conn struct {
	fd              int
	state           state
	in              []byte // bytes read but not yet consumed
	out             []byte // bytes to write: this round's, and what the socket did not take
	dirty           bool   // in server.dirty: out is written at the end of the round
	waitOut         bool   // the socket was full: EPOLLOUT writes out
	closeAfterWrite bool
	connected       bool // Socket.IO CONNECT done
	sid             string
}

type server struct {
	epfd     int
	lfd      int
	conns    map[int]*conn
	members  map[int]*conn
	dirty    []*conn                                       // connections with output gathered this round
	stats    struct{ waits, reads, writes, frames uint64 } // syscalls and frames sent, on /metrics
	sockets  int
	readBuf  []byte
	frame    []byte // scratch for one outgoing frame
	nextSID  uint64
	pingIval time.Duration
	openPkt  []byte

	channel string
	uid     [8]byte // prefixes what this process publishes, to skip its own echo
	pkt     []byte  // scratch for one outgoing packet
	pub     *conn   // Redis connection that publishes
	sub     *conn   // Redis connection that subscribes
	pubCmd  []byte
}

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "`host:port` to listen on (IPv4)")
	redisURL := flag.String("redis-url", "", "redis://host:port shared by the floor processes of a run; empty: one process alone")
	channel := flag.String("channel", "floor#/#", "Redis channel the message frames go through")
	ping := flag.Duration("ping-interval", 25*time.Second, "Engine.IO ping interval")
	flag.String("log-level", "", "ignored (the gateway's flag, accepted for run.sh)")
	flag.Parse()

	runtime.LockOSThread()
	s := &server{
		conns:    map[int]*conn{},
		members:  map[int]*conn{},
		readBuf:  make([]byte, 256<<10),
		pingIval: *ping,
		channel:  *channel,
	}
	s.openPkt = fmt.Appendf(nil, `{"upgrades":[],"pingInterval":%d,"pingTimeout":20000,"maxPayload":1000000}`, ping.Milliseconds())
	if err := s.listen(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
	if *redisURL != "" {
		if err := s.dialRedis(*redisURL); err != nil {
			fmt.Fprintln(os.Stderr, "floor: redis:", err)
			os.Exit(1)
		}
	}
	fmt.Fprintf(os.Stderr, "floor: listening on %s\n", *addr)
	s.loop()
}

func sockaddr(hostport string) (*unix.SockaddrInet4, error) {
	host, portStr, ok := strings.Cut(hostport, ":")
	if !ok {
		return nil, fmt.Errorf("bad address %q", hostport)
	}
	if host == "" || host == "localhost" {
		host = "127.0.0.1"
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("bad port in %q", hostport)
	}
	var sa unix.SockaddrInet4
	sa.Port = port
	parts := strings.Split(host, ".")
	if len(parts) != 4 {
		return nil, fmt.Errorf("not an IPv4 address: %q", host)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 255 {
			return nil, fmt.Errorf("not an IPv4 address: %q", host)
		}
		sa.Addr[i] = byte(n)
	}
	return &sa, nil
}

func (s *server) listen(addr string) error {
	sa, err := sockaddr(addr)
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return err
	}
	if err := unix.Bind(fd, sa); err != nil {
		return err
	}
	if err := unix.Listen(fd, 4096); err != nil {
		return err
	}
	s.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	s.lfd = fd
	return unix.EpollCtl(s.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)})
}

// dialRedis opens the publishing and the subscribing connection (blocking
// connect, then non-blocking in the loop) and subscribes.
func (s *server) dialRedis(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	sa, err := sockaddr(u.Host)
	if err != nil {
		return err
	}
	open := func() (*conn, error) {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		if err := unix.Connect(fd, sa); err != nil {
			unix.Close(fd)
			return nil, err
		}
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		if err := unix.SetNonblock(fd, true); err != nil {
			return nil, err
		}
		c := &conn{fd: fd}
		return c, unix.EpollCtl(s.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)})
	}
	if s.pub, err = open(); err != nil {
		return err
	}
	if s.sub, err = open(); err != nil {
		return err
	}
	copy(s.uid[:], fmt.Sprintf("%08x", uint32(os.Getpid())))
	s.pubCmd = fmt.Appendf(nil, "*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n", len(s.channel), s.channel)
	s.write(s.sub, fmt.Appendf(nil, "*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n", len(s.channel), s.channel))
	return nil
}

func (s *server) loop() {
	events := make([]unix.EpollEvent, 512)
	nextPing := time.Now().Add(s.pingIval)
	for {
		s.flushRound()
		wait := int(time.Until(nextPing) / time.Millisecond)
		if wait < 0 {
			wait = 0
		}
		n, err := unix.EpollWait(s.epfd, events, wait)
		s.stats.waits++
		if err != nil && !errors.Is(err, unix.EINTR) {
			fmt.Fprintln(os.Stderr, "floor: epoll_wait:", err)
			os.Exit(1)
		}
		for i := 0; i < n; i++ {
			ev := events[i]
			fd := int(ev.Fd)
			switch {
			case fd == s.lfd:
				s.accept()
			case s.pub != nil && fd == s.pub.fd:
				s.onRedis(s.pub, ev.Events)
			case s.sub != nil && fd == s.sub.fd:
				s.onRedis(s.sub, ev.Events)
			default:
				if c := s.conns[fd]; c != nil {
					s.onConn(c, ev.Events)
				}
			}
		}
		if !time.Now().Before(nextPing) {
			s.pingAll()
			nextPing = time.Now().Add(s.pingIval)
		}
	}
}

func (s *server) accept() {
	for {
		fd, _, err := unix.Accept4(s.lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			return // EAGAIN, or a transient error: wait for the next readiness
		}
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		c := &conn{fd: fd}
		s.conns[fd] = c
		if err := unix.EpollCtl(s.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd)}); err != nil {
			s.close(c)
		}
	}
}

func (s *server) close(c *conn) {
	if s.conns[c.fd] != c {
		return
	}
	delete(s.conns, c.fd)
	delete(s.members, c.fd)
	if c.connected {
		s.sockets--
	}
	unix.Close(c.fd) // also removes it from the epoll set
}

// write gathers b for c; the round ends with one write(2) per connection
// (flushRound).
func (s *server) write(c *conn, b []byte) {
	c.out = append(c.out, b...)
	if !c.dirty && !c.waitOut {
		c.dirty = true
		s.dirty = append(s.dirty, c)
	}
}

// flushRound writes what the round gathered, once per connection.
func (s *server) flushRound() {
	for i, c := range s.dirty {
		s.dirty[i] = nil
		c.dirty = false
		if c.waitOut || (c != s.pub && c != s.sub && s.conns[c.fd] != c) {
			continue // waits for EPOLLOUT, or closed meanwhile
		}
		s.flush(c)
	}
	s.dirty = s.dirty[:0]
}

// flush writes c.out with one write(2) (more only if the kernel takes part
// of it and then more), and leaves what the socket does not take to EPOLLOUT.
func (s *server) flush(c *conn) {
	b := c.out
	for len(b) > 0 {
		n, err := unix.Write(c.fd, b)
		s.stats.writes++
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			if c != s.pub && c != s.sub {
				s.close(c)
				return
			}
			fmt.Fprintln(os.Stderr, "floor: redis connection lost")
			os.Exit(1)
		}
		b = b[n:]
	}
	if len(b) > 0 {
		c.out = append(c.out[:0], b...)
		if !c.waitOut {
			c.waitOut = true
			unix.EpollCtl(s.epfd, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP, Fd: int32(c.fd)})
		}
		return
	}
	c.out = c.out[:0]
	if c.waitOut {
		c.waitOut = false
		unix.EpollCtl(s.epfd, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(c.fd)})
	}
	if c.closeAfterWrite {
		s.close(c)
	}
}

// readInto reads what the socket has into c.in (or straight from the shared
// buffer when nothing is left over). It reports false when the peer is gone.
func (s *server) readInto(c *conn) ([]byte, bool) {
	n, err := unix.Read(c.fd, s.readBuf)
	s.stats.reads++
	if err == unix.EAGAIN || err == unix.EINTR {
		return nil, true
	}
	if err != nil || n == 0 {
		return nil, false
	}
	if len(c.in) == 0 {
		return s.readBuf[:n], true
	}
	c.in = append(c.in, s.readBuf[:n]...)
	return c.in, true
}

// keep stores the unconsumed tail for the next read.
func keep(c *conn, rest []byte) {
	if len(rest) == 0 {
		c.in = c.in[:0]
		return
	}
	c.in = append(c.in[:0], rest...)
}

func (s *server) onConn(c *conn, events uint32) {
	if events&unix.EPOLLOUT != 0 && c.waitOut {
		s.flush(c)
		if s.conns[c.fd] != c {
			return
		}
	}
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) == 0 {
		return
	}
	data, ok := s.readInto(c)
	if !ok {
		s.close(c)
		return
	}
	if data == nil {
		return
	}
	if c.state == stateHTTP {
		data = s.onHTTP(c, data)
		if s.conns[c.fd] != c || data == nil {
			return
		}
	}
	keep(c, s.onFrames(c, data))
}

// onHTTP handles one request; it returns what follows it (frames) or nil.
func (s *server) onHTTP(c *conn, data []byte) []byte {
	end := bytes.Index(data, []byte("\r\n\r\n"))
	if end < 0 {
		if len(data) > 16<<10 {
			s.close(c)
		} else {
			keep(c, data)
		}
		return nil
	}
	head, rest := data[:end], data[end+4:]
	line, headers, _ := bytes.Cut(head, []byte("\r\n"))
	fields := bytes.Fields(line)
	if len(fields) < 2 {
		s.close(c)
		return nil
	}
	target := string(fields[1])
	path, _, _ := strings.Cut(target, "?")
	switch {
	case path == "/healthz":
		s.reply(c, "text/plain", "ok")
		return nil
	case path == "/metrics":
		s.reply(c, "text/plain; version=0.0.4", fmt.Sprintf(
			"sockgate_sockets %d\nfloor_epoll_waits_total %d\nfloor_reads_total %d\nfloor_writes_total %d\nfloor_frames_total %d\n",
			s.sockets, s.stats.waits, s.stats.reads, s.stats.writes, s.stats.frames))
		return nil
	case path == "/socket.io/" && strings.Contains(target, "transport=websocket"):
		key := header(headers, "sec-websocket-key")
		if key == "" {
			s.reply(c, "text/plain", "websocket only")
			return nil
		}
		h := sha1.Sum([]byte(key + wsGUID))
		resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
			base64.StdEncoding.EncodeToString(h[:]) + "\r\n\r\n"
		s.nextSID++
		c.sid = fmt.Sprintf("floor%015d", s.nextSID)
		c.state = stateWS
		pkt := append(append(append([]byte(`0{"sid":"`), c.sid...), '"', ','), s.openPkt[1:]...)
		s.write(c, append([]byte(resp), s.textFrame(pkt)...))
		return rest
	default:
		c.closeAfterWrite = true
		s.write(c, []byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
		return nil
	}
}

func (s *server) reply(c *conn, ctype, body string) {
	c.closeAfterWrite = true
	s.write(c, fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", ctype, len(body), body))
}

func header(headers []byte, name string) string {
	for line := range bytes.SplitSeq(headers, []byte("\r\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && strings.EqualFold(string(bytes.TrimSpace(k)), name) {
			return string(bytes.TrimSpace(v))
		}
	}
	return ""
}

// textFrame returns an unmasked, final text frame around p in s.frame.
func (s *server) textFrame(p []byte) []byte {
	f := s.frame[:0]
	switch n := len(p); {
	case n < 126:
		f = append(f, 0x81, byte(n))
	case n < 1<<16:
		f = append(f, 0x81, 126, byte(n>>8), byte(n))
	default:
		f = append(f, 0x81, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	f = append(f, p...)
	s.frame = f
	s.stats.frames++ // one per frame built; deliver adds its other recipients
	return f
}

// onFrames handles every whole frame in data and returns the incomplete tail.
func (s *server) onFrames(c *conn, data []byte) []byte {
	for {
		if len(data) < 2 {
			return data
		}
		b0, b1 := data[0], data[1]
		op := b0 & 0x0f
		n := int(b1 & 0x7f)
		hdr := 2
		switch n {
		case 126:
			if len(data) < 4 {
				return data
			}
			n = int(data[2])<<8 | int(data[3])
			hdr = 4
		case 127:
			if len(data) < 10 {
				return data
			}
			n = 0
			for _, b := range data[2:10] {
				n = n<<8 | int(b)
			}
			hdr = 10
		}
		if b1&0x80 == 0 || b0&0x80 == 0 || n > 1<<24 {
			s.close(c) // unmasked or fragmented: not loadgen's traffic
			return nil
		}
		if len(data) < hdr+4+n {
			return data
		}
		mask := data[hdr : hdr+4]
		p := data[hdr+4 : hdr+4+n]
		for i := range p {
			p[i] ^= mask[i&3]
		}
		data = data[hdr+4+n:]
		switch op {
		case 1:
			s.onPacket(c, p)
		case 8:
			c.closeAfterWrite = true
			s.write(c, []byte{0x88, 0})
			return nil
		case 9:
			s.write(c, append([]byte{0x8a, byte(len(p))}, p...))
		}
		if s.conns[c.fd] != c {
			return nil
		}
	}
}

// onPacket handles one Engine.IO packet of loadgen's.
func (s *server) onPacket(c *conn, p []byte) {
	if len(p) < 2 || p[0] != '4' {
		return // pong (3) and anything else
	}
	p = p[1:]
	switch p[0] {
	case '0': // CONNECT to "/"
		if !c.connected {
			c.connected = true
			s.sockets++
		}
		s.write(c, s.textFrame(append(append([]byte(`40{"sid":"`), c.sid...), '"', '}')))
	case '2': // EVENT: 2[id][...]
		i := 1
		for i < len(p) && p[i] >= '0' && p[i] <= '9' {
			i++
		}
		id, body := p[1:i], p[i:]
		switch {
		case bytes.HasPrefix(body, []byte(`["join"`)):
			s.members[c.fd] = c
			s.ack(c, id, []byte("[true]"))
		case bytes.HasPrefix(body, []byte(`["leave"`)):
			delete(s.members, c.fd)
			s.ack(c, id, []byte("[true]"))
		case bytes.HasPrefix(body, []byte(`["message"`)):
			s.pkt = append(append(s.pkt[:0], "42"...), body...)
			s.deliver(s.pkt)
			if s.pub != nil {
				// One PUBLISH of uid + packet; the reply is not waited for.
				cmd := append(s.frame[:0], s.pubCmd...)
				cmd = strconv.AppendInt(append(cmd, '$'), int64(len(s.uid)+len(s.pkt)), 10)
				cmd = append(append(append(append(cmd, '\r', '\n'), s.uid[:]...), s.pkt...), '\r', '\n')
				s.frame = cmd
				s.write(s.pub, cmd)
			}
			s.ack(c, id, []byte("[true]"))
		case bytes.HasPrefix(body, []byte(`["echo"`)):
			rest := body[len(`["echo"`):]
			args := []byte("[]")
			if len(rest) > 0 && rest[0] == ',' {
				args = append([]byte{'['}, rest[1:]...)
			}
			s.ack(c, id, args)
		default:
			s.ack(c, id, []byte(`[{"error":"unknown event"}]`))
		}
	}
}

func (s *server) ack(c *conn, id, args []byte) {
	if len(id) == 0 {
		return
	}
	s.pkt = append(append(append(s.pkt[:0], "43"...), id...), args...)
	s.write(c, s.textFrame(s.pkt))
}

// deliver gathers one frame, built once, for every local member.
func (s *server) deliver(pkt []byte) {
	f := s.textFrame(pkt)
	s.stats.frames += uint64(max(len(s.members)-1, 0))
	for _, m := range s.members {
		s.write(m, f)
	}
}

func (s *server) pingAll() {
	f := s.textFrame([]byte("2"))
	for _, c := range s.conns {
		if c.state == stateWS {
			s.write(c, f)
		}
	}
}

// onRedis reads replies: the publisher's are dropped, the subscriber's
// messages are delivered to the local members.
func (s *server) onRedis(c *conn, events uint32) {
	if events&unix.EPOLLOUT != 0 && c.waitOut {
		s.flush(c)
	}
	if events&unix.EPOLLIN == 0 {
		return
	}
	data, ok := s.readInto(c)
	if !ok {
		fmt.Fprintln(os.Stderr, "floor: redis connection lost")
		os.Exit(1)
	}
	if data == nil {
		return
	}
	if c == s.pub {
		c.in = c.in[:0] // replies to PUBLISH: integers, not needed
		return
	}
	keep(c, s.onSubscribed(data))
}

// onSubscribed parses RESP push messages ("*3 $7 message $n channel $m
// payload") and returns the incomplete tail.
func (s *server) onSubscribed(data []byte) []byte {
	for len(data) > 0 {
		rest, parts, ok := resp(data)
		if !ok {
			return data
		}
		data = rest
		if len(parts) == 3 && string(parts[0]) == "message" && len(parts[2]) > len(s.uid) &&
			!bytes.Equal(parts[2][:len(s.uid)], s.uid[:]) {
			s.deliver(parts[2][len(s.uid):])
		}
	}
	return nil
}

// resp parses one RESP array of bulk strings (or any simple line, skipped).
func resp(data []byte) (rest []byte, parts [][]byte, ok bool) {
	line, after, found := bytes.Cut(data, []byte("\r\n"))
	if !found {
		return data, nil, false
	}
	if len(line) == 0 || line[0] != '*' {
		return after, nil, true
	}
	count, err := strconv.Atoi(string(line[1:]))
	if err != nil {
		return after, nil, true
	}
	data = after
	for range count {
		line, after, found = bytes.Cut(data, []byte("\r\n"))
		if !found {
			return nil, nil, false
		}
		if len(line) == 0 || line[0] != '$' {
			parts = append(parts, line[1:]) // :integer in the subscribe reply
			data = after
			continue
		}
		n, err := strconv.Atoi(string(line[1:]))
		if err != nil || len(after) < n+2 {
			return nil, nil, false
		}
		parts = append(parts, after[:n])
		data = after[n+2:]
	}
	return data, parts, true
}
