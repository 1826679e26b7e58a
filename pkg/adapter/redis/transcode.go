package redis

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/sockgate/sockgate/pkg/protocol/msgpack"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// The session layer keeps event arguments as raw JSON with binary
// placeholders ({"_placeholder":true,"num":N}) plus attachments; Node's
// adapter publishes them as notepack msgpack, with Buffers as bin (wire notes
// §2). The functions here convert between the two without building a tree.

// maxDepth bounds the nesting of values in both directions.
const maxDepth = 100

var errTranscode = errors.New("redis: cannot transcode value")

// jsonToMsgpack appends the msgpack form of the JSON value js. Placeholders
// whose num indexes attachments become bin values with that attachment.
// Integers keep their exact value up to 64 bits; other numbers become
// float64, except integral ones that fit in 64 bits, which notepack would
// also write as integers.
func jsonToMsgpack(dst, js []byte, attachments [][]byte) ([]byte, error) {
	s := jsonScanner{b: js, atts: attachments}
	s.ws()
	dst, err := s.value(dst, 0)
	if err != nil {
		return dst, err
	}
	s.ws()
	if s.i != len(s.b) {
		return dst, s.errf("trailing data")
	}
	return dst, nil
}

type jsonScanner struct {
	b    []byte
	i    int
	atts [][]byte
}

func (s *jsonScanner) errf(format string, args ...any) error {
	return fmt.Errorf("%w: json at %d: %s", errTranscode, s.i, fmt.Sprintf(format, args...))
}

func (s *jsonScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScanner) value(dst []byte, depth int) ([]byte, error) {
	if s.i >= len(s.b) {
		return dst, s.errf("unexpected end")
	}
	switch c := s.b[s.i]; {
	case c == '{':
		if depth >= maxDepth {
			return dst, s.errf("too deep")
		}
		if n, ok := s.placeholder(); ok {
			return msgpack.AppendBinary(dst, s.atts[n]), nil
		}
		return s.collection(dst, depth+1, true)
	case c == '[':
		if depth >= maxDepth {
			return dst, s.errf("too deep")
		}
		return s.collection(dst, depth+1, false)
	case c == '"':
		return s.str(dst)
	case c == 't':
		return s.literal(dst, "true", 0xc3)
	case c == 'f':
		return s.literal(dst, "false", 0xc2)
	case c == 'n':
		return s.literal(dst, "null", 0xc0)
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number(dst)
	}
	return dst, s.errf("unexpected %q", s.b[s.i])
}

func (s *jsonScanner) literal(dst []byte, lit string, code byte) ([]byte, error) {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return dst, s.errf("bad literal")
	}
	s.i += len(lit)
	return append(dst, code), nil
}

// collection reserves a one-byte header; endCollection writes the real
// header, moving the elements when n needs a longer one.
func endCollection(dst []byte, at, n int, fix byte, array bool) []byte {
	if n < 16 {
		dst[at] = fix | byte(n)
		return dst
	}
	var hdr []byte
	if array {
		hdr = msgpack.AppendArrayHeader(make([]byte, 0, 5), n)
	} else {
		hdr = msgpack.AppendMapHeader(make([]byte, 0, 5), n)
	}
	extra := len(hdr) - 1
	dst = append(dst, hdr[:extra]...)
	copy(dst[at+len(hdr):], dst[at+1:len(dst)-extra])
	copy(dst[at:], hdr)
	return dst
}

// collection transcodes the array or object at s.i, whose elements are at
// depth.
func (s *jsonScanner) collection(dst []byte, depth int, object bool) ([]byte, error) {
	fix, end := byte(0x90), byte(']')
	if object {
		fix, end = 0x80, '}'
	}
	s.i++ // [ or {
	at := len(dst)
	dst = append(dst, fix)
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == end {
		s.i++
		return dst, nil
	}
	for n := 1; ; n++ {
		s.ws()
		var err error
		if object {
			if dst, err = s.key(dst); err != nil {
				return dst, err
			}
		}
		if dst, err = s.value(dst, depth); err != nil {
			return dst, err
		}
		s.ws()
		if s.i >= len(s.b) {
			return dst, s.errf("unexpected end")
		}
		c := s.b[s.i]
		s.i++
		if c == end {
			return endCollection(dst, at, n, fix, !object), nil
		}
		if c != ',' {
			return dst, s.errf("expected , or %c", end)
		}
	}
}

// key transcodes the object key at s.i and moves past the colon after it.
func (s *jsonScanner) key(dst []byte) ([]byte, error) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return dst, s.errf("expected key")
	}
	dst, err := s.str(dst)
	if err != nil {
		return dst, err
	}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		return dst, s.errf("expected :")
	}
	s.i++
	s.ws()
	return dst, nil
}

// placeholder recognizes {"_placeholder":true,"num":N} (keys in any order,
// no escapes) with N indexing an attachment. It consumes the object only
// when it returns true.
func (s *jsonScanner) placeholder() (int, bool) {
	if len(s.atts) == 0 {
		return 0, false
	}
	save := s.i
	num, seenFlag, seenNum := -1, false, false
	s.i++ // {
	for k := 0; k < 2; k++ {
		s.ws()
		key, ok := s.plainString()
		if !ok {
			break
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			break
		}
		s.i++
		s.ws()
		switch key {
		case "_placeholder":
			if len(s.b)-s.i < 4 || string(s.b[s.i:s.i+4]) != "true" {
				s.i = save
				return 0, false
			}
			s.i += 4
			seenFlag = true
		case "num":
			start := s.i
			for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' && s.i-start < 9 {
				s.i++
			}
			if s.i == start {
				s.i = save
				return 0, false
			}
			num, _ = strconv.Atoi(string(s.b[start:s.i]))
			seenNum = true
		default:
			s.i = save
			return 0, false
		}
		s.ws()
		if s.i >= len(s.b) {
			break
		}
		if k == 0 && s.b[s.i] == ',' {
			s.i++
			continue
		}
		if k == 1 && s.b[s.i] == '}' && seenFlag && seenNum && num < len(s.atts) {
			s.i++
			return num, true
		}
		break
	}
	s.i = save
	return 0, false
}

// plainString reads a string without escapes.
func (s *jsonScanner) plainString() (string, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return "", false
	}
	for j := s.i + 1; j < len(s.b); j++ {
		switch s.b[j] {
		case '\\':
			return "", false
		case '"':
			key := string(s.b[s.i+1 : j])
			s.i = j + 1
			return key, true
		}
	}
	return "", false
}

// str transcodes a JSON string to a msgpack str. It checks the escapes and
// leaves decoding them to socketio.AppendUnquoted; other bytes are copied as
// they are.
func (s *jsonScanner) str(dst []byte) ([]byte, error) {
	s.i++ // "
	start := s.i
	escaped := false
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			raw := s.b[start:s.i]
			s.i++
			if escaped {
				raw = socketio.AppendUnquoted(make([]byte, 0, len(raw)), raw)
			}
			return msgpack.AppendStringBytes(dst, raw), nil
		case c < 0x20:
			return dst, s.errf("control character in string")
		case c == '\\':
			if err := s.escape(); err != nil {
				return dst, err
			}
			escaped = true
		default:
			s.i++
		}
	}
	return dst, s.errf("unterminated string")
}

// escape moves past the escape sequence at s.i, which it checks.
func (s *jsonScanner) escape() error {
	if s.i+1 >= len(s.b) {
		return s.errf("unexpected end")
	}
	e := s.b[s.i+1]
	s.i += 2
	switch e {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
	case 'u':
		if _, ok := s.hex4(); !ok {
			return s.errf("bad \\u escape")
		}
	default:
		return s.errf("bad escape")
	}
	return nil
}

func (s *jsonScanner) hex4() (rune, bool) {
	if len(s.b)-s.i < 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(s.b[s.i:s.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	s.i += 4
	return rune(v), true
}

func (s *jsonScanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

func (s *jsonScanner) number(dst []byte) ([]byte, error) {
	start := s.i
	integer := true
	if s.b[s.i] == '-' {
		s.i++
	}
	// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.digits() == 0:
		return dst, s.errf("bad number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		integer = false
		if s.digits() == 0 {
			return dst, s.errf("bad number")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		integer = false
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return dst, s.errf("bad number")
		}
	}
	text := string(s.b[start:s.i])
	if integer {
		if text[0] == '-' {
			if v, err := strconv.ParseInt(text, 10, 64); err == nil {
				return msgpack.AppendInt(dst, v), nil
			}
		} else if v, err := strconv.ParseUint(text, 10, 64); err == nil {
			return msgpack.AppendUint(dst, v), nil
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return dst, s.errf("bad number %q", text)
	}
	// notepack writes every integral number as an integer.
	if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
		return msgpack.AppendInt(dst, int64(f)), nil
	}
	return msgpack.AppendFloat64(dst, f), nil
}

// msgpackToJSON transcodes the next msgpack value of r to JSON appended to
// dst. bin values (and ext 0, notepack's legacy ArrayBuffer) become
// placeholders numbered after the attachments already in *atts, to which
// they are appended (as sub-slices of the input). Timestamps become the
// string Date.toJSON gives; notepack's legacy undefined becomes null in
// arrays and drops its key in maps, as JSON.stringify does.
func msgpackToJSON(dst []byte, r *msgpack.Reader, atts *[][]byte) ([]byte, error) {
	return toJSON(dst, r, atts, 0)
}

// undefinedMarker is returned (with dst unchanged) for notepack's undefined.
var errUndefined = errors.New("undefined")

func toJSON(dst []byte, r *msgpack.Reader, atts *[][]byte, depth int) ([]byte, error) {
	t, err := r.Next()
	if err != nil {
		return dst, err
	}
	switch t.Type {
	case msgpack.TypeNil:
		return append(dst, "null"...), nil
	case msgpack.TypeBool:
		return strconv.AppendBool(dst, t.Bool), nil
	case msgpack.TypeUint:
		return strconv.AppendUint(dst, t.Uint, 10), nil
	case msgpack.TypeInt:
		return strconv.AppendInt(dst, t.Int, 10), nil
	case msgpack.TypeFloat:
		return appendJSFloat(dst, t.Float), nil
	case msgpack.TypeStr:
		return socketio.AppendStringBytes(dst, t.Bytes), nil
	case msgpack.TypeBin:
		return appendPlaceholder(dst, t.Bytes, atts), nil
	case msgpack.TypeExt:
		return extToJSON(dst, t, atts)
	case msgpack.TypeArray:
		if depth >= maxDepth {
			return dst, fmt.Errorf("%w: too deep", errTranscode)
		}
		dst = append(dst, '[')
		for i := 0; i < t.Len; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			mark := len(dst)
			dst, err = toJSON(dst, r, atts, depth+1)
			if errors.Is(err, errUndefined) {
				dst = append(dst[:mark], "null"...)
				continue
			}
			if err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case msgpack.TypeMap:
		if depth >= maxDepth {
			return dst, fmt.Errorf("%w: too deep", errTranscode)
		}
		dst = append(dst, '{')
		first := true
		for i := 0; i < t.Len; i++ {
			mark := len(dst)
			if !first {
				dst = append(dst, ',')
			}
			if dst, err = mapKey(dst, r); err != nil {
				return dst, err
			}
			dst = append(dst, ':')
			dst, err = toJSON(dst, r, atts, depth+1)
			if errors.Is(err, errUndefined) {
				dst = dst[:mark]
				continue
			}
			if err != nil {
				return dst, err
			}
			first = false
		}
		return append(dst, '}'), nil
	}
	return dst, fmt.Errorf("%w: %s", errTranscode, t.Type)
}

func mapKey(dst []byte, r *msgpack.Reader) ([]byte, error) {
	t, err := r.Next()
	if err != nil {
		return dst, err
	}
	switch t.Type {
	case msgpack.TypeStr:
		return socketio.AppendStringBytes(dst, t.Bytes), nil
	case msgpack.TypeUint:
		return strconv.AppendQuote(dst, strconv.FormatUint(t.Uint, 10)), nil
	case msgpack.TypeInt:
		return strconv.AppendQuote(dst, strconv.FormatInt(t.Int, 10)), nil
	}
	return dst, fmt.Errorf("%w: %s map key", errTranscode, t.Type)
}

func appendPlaceholder(dst, data []byte, atts *[][]byte) []byte {
	dst = append(dst, `{"_placeholder":true,"num":`...)
	dst = strconv.AppendInt(dst, int64(len(*atts)), 10)
	*atts = append(*atts, data)
	return append(dst, '}')
}

func extToJSON(dst []byte, t msgpack.Token, atts *[][]byte) ([]byte, error) {
	switch {
	case t.Ext == msgpack.TimestampExt:
		ts, err := msgpack.Timestamp(t.Bytes)
		if err != nil {
			return dst, err
		}
		return appendJSDate(dst, ts), nil
	case t.Ext == 0 && len(t.Bytes) == 1:
		return dst, errUndefined // fixext 1, type 0: legacy undefined
	case t.Ext == 0 && len(t.Bytes) == 8:
		// fixext 8, type 0: legacy Date, milliseconds as int64.
		ms := int64(binary.BigEndian.Uint64(t.Bytes))
		return appendJSDate(dst, time.UnixMilli(ms)), nil
	case t.Ext == 0:
		return appendPlaceholder(dst, t.Bytes, atts), nil // legacy ArrayBuffer
	}
	// notepack decodes other extensions as [type, Buffer].
	dst = append(dst, '[')
	dst = strconv.AppendInt(dst, int64(t.Ext), 10)
	dst = append(dst, ',')
	dst = appendPlaceholder(dst, t.Bytes, atts)
	return append(dst, ']'), nil
}

// appendJSDate writes t as Date.prototype.toJSON does (null when JavaScript
// cannot represent it).
func appendJSDate(dst []byte, t time.Time) []byte {
	const maxMs = 8.64e15
	ms := t.UnixMilli()
	if ms > maxMs || ms < -maxMs {
		return append(dst, "null"...)
	}
	t = time.UnixMilli(ms).UTC()
	y := t.Year()
	dst = append(dst, '"')
	switch {
	case y >= 0 && y <= 9999:
		dst = t.AppendFormat(dst, "2006-01-02T15:04:05.000Z")
	default:
		sign := byte('+')
		if y < 0 {
			sign, y = '-', -y
		}
		dst = append(dst, sign)
		ys := strconv.Itoa(y)
		for i := len(ys); i < 6; i++ {
			dst = append(dst, '0')
		}
		dst = append(dst, ys...)
		dst = t.AppendFormat(dst, "-01-02T15:04:05.000Z")
	}
	return append(dst, '"')
}

// appendJSFloat formats f as JavaScript's Number#toString does (and
// JSON.stringify: NaN and infinities become null).
func appendJSFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	if f == 0 {
		return append(dst, '0')
	}
	abs := math.Abs(f)
	if abs >= 1e-6 && abs < 1e21 {
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	}
	n := len(dst)
	dst = strconv.AppendFloat(dst, f, 'e', -1, 64)
	// Go writes e-07, JavaScript e-7.
	if m := len(dst); m-n >= 4 && dst[m-2] == '0' && (dst[m-3] == '-' || dst[m-3] == '+') {
		dst[m-2] = dst[m-1]
		dst = dst[:m-1]
	}
	return dst
}
