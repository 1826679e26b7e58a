package socketio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// This file holds the JSON machinery of the codec. Payloads are never
// unmarshalled: they are validated once, in place, by an iterative scanner
// (an explicit bit stack instead of recursion, so a 10,000-deep array costs
// O(n) time and a few words of memory, never goroutine stack), and later
// walked by the cheaper structural skipper in skipValue.

// stackWords is the size of the scanner's inline container stack: depths up
// to 256 need no allocation.
const stackWords = 4

// jsonError wraps ErrInvalidPacket with what went wrong and where.
func jsonError(off int, format string, args ...any) error {
	return fmt.Errorf("%w: json at offset %d: %s", ErrInvalidPacket, off, fmt.Sprintf(format, args...))
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return i
}

// trimSpace strips JSON whitespace from both ends of data.
func trimSpace(data []byte) []byte {
	i, j := 0, len(data)
	for i < j && isSpace(data[i]) {
		i++
	}
	for j > i && isSpace(data[j-1]) {
		j--
	}
	return data[i:j]
}

// keyKind classifies object keys the placeholder recogniser cares about.
type keyKind uint8

const (
	keyOther keyKind = iota
	keyPlaceholder
	keyNum
)

// phFrame is the placeholder state of one open object that has a
// "_placeholder" or "num" member. Duplicate keys: the last one wins, as in
// JSON.parse.
type phFrame struct {
	depth  int
	isTrue bool // the "_placeholder" member is the literal true
	num    int  // the "num" member's index, -1 when it is not one
}

// phFrames is the stack of the open objects that have placeholder keys.
type phFrames struct {
	n      int        // open frames
	inline [8]phFrame // frames 0..7
	spill  []phFrame  // frames 8.., rarely used
}

func (c *phFrames) at(k int) *phFrame {
	if k < len(c.inline) {
		return &c.inline[k]
	}
	return &c.spill[k-len(c.inline)]
}

func (c *phFrames) frame(depth int) *phFrame {
	if c.n > 0 {
		if f := c.at(c.n - 1); f.depth == depth {
			return f
		}
	}
	if c.n >= len(c.inline) && c.n-len(c.inline) == len(c.spill) {
		c.spill = append(c.spill, phFrame{})
	}
	c.n++
	f := c.at(c.n - 1)
	*f = phFrame{depth: depth, num: -1}
	return f
}

// value records a member value (raw scalar, or nil for a container) of the
// object at depth.
func (c *phFrames) value(depth int, k keyKind, raw []byte) {
	switch k {
	case keyPlaceholder:
		c.frame(depth).isTrue = len(raw) == 4 && string(raw) == "true"
	case keyNum:
		c.frame(depth).num = placeholderIndex(raw)
	}
}

// close pops the frame of the object at depth, which just ended, and
// returns its placeholder state.
func (c *phFrames) close(depth int) (num int, isPlaceholder bool) {
	if c.n == 0 {
		return -1, false
	}
	f := c.at(c.n - 1)
	if f.depth != depth {
		return -1, false
	}
	c.n--
	return f.num, f.isTrue
}

// placeholderIndex returns the attachment index a raw "num" member value
// stands for: a JSON number whose value is a non-negative integer ("0",
// "1e0", "2.0", "-0"), saturated at 1<<30; -1 for anything else. A
// fractional number is -1 too: socket.io-parser would resolve it to
// undefined, which no attachment stands for.
func placeholderIndex(raw []byte) int {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return -1 // nil (a container), a string or a literal
	}
	n := 0
	for _, c := range raw {
		if c < '0' || c > '9' {
			return placeholderFloat(raw)
		}
		if n < 1<<30 {
			n = n*10 + int(c-'0')
		}
	}
	return min(n, 1<<30)
}

func placeholderFloat(raw []byte) int {
	f, err := strconv.ParseFloat(string(raw), 64)
	if (err != nil && !errors.Is(err, strconv.ErrRange)) || f < 0 || f != math.Trunc(f) {
		return -1
	}
	return int(min(f, 1<<30))
}

// Placeholder reports whether v, one JSON value, is a binary placeholder as
// socket.io-parser 4.2's reconstructPacket reads one: an object whose
// "_placeholder" member is exactly true (`=== true`: not 1, not "true"). As
// for JSON.parse, key names are compared unescaped ("\u005fplaceholder" is
// "_placeholder"), the last of duplicate members counts, other members are
// allowed and ignored, and order does not matter.
//
// num is the attachment index its "num" member gives when that is a JSON
// number with a non-negative integer value ("0", "1e0", "2.0"), else -1;
// socket.io-parser rejects a placeholder whose num does not index one of the
// packet's attachments ("illegal attachments"), and so does the Decoder. v
// must be valid JSON (the Decoder validated it); anything else is not a
// placeholder.
func Placeholder(v []byte) (num int, ok bool) {
	v = trimSpace(v)
	if len(v) < 2 || v[0] != '{' {
		return -1, false
	}
	var s Scanner
	s.Reset(v, math.MaxInt, true)
	for {
		switch s.Next() {
		case End:
			return -1, false
		case EndObject:
			if s.depth == 0 {
				// Trailing bytes make v invalid JSON: not a placeholder.
				if !s.phOK || s.end != len(v) {
					return -1, false
				}
				return s.phNum, true
			}
		}
	}
}

// classifyKey tells whether the raw quoted key is "_placeholder" or "num",
// resolving escapes ("\u005fplaceholder" is the same key to JSON.parse).
func classifyKey(raw []byte) keyKind {
	s := raw[1 : len(raw)-1]
	switch {
	case unquotedEqual(s, "_placeholder"):
		return keyPlaceholder
	case unquotedEqual(s, "num"):
		return keyNum
	}
	return keyOther
}

// unquotedEqual reports whether s, the contents of a JSON string without its
// quotes, decodes to lit. It does not allocate.
func unquotedEqual(s []byte, lit string) bool {
	if len(s) < len(lit) {
		return false // escapes only make the encoding longer
	}
	j := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			if j >= len(lit) || lit[j] != c {
				return false
			}
			i++
			j++
			continue
		}
		if i+1 >= len(s) {
			return false
		}
		r, n := rune(s[i+1]), 2
		switch s[i+1] {
		case 'b':
			r = '\b'
		case 'f':
			r = '\f'
		case 'n':
			r = '\n'
		case 'r':
			r = '\r'
		case 't':
			r = '\t'
		case 'u':
			if r, n = decodeU(s[i:]); n == 0 {
				return false
			}
		}
		var buf [utf8.UTFMax]byte
		m := utf8.EncodeRune(buf[:], r)
		if j+m > len(lit) || string(buf[:m]) != lit[j:j+m] {
			return false
		}
		i += n
		j += m
	}
	return j == len(lit)
}

// Kind is the kind of a JSON token; End (zero) is no token.
type Kind uint8

// The token kinds. Strings and numbers keep their raw text (Scanner.Raw).
const (
	End Kind = iota
	String
	Number
	True
	False
	Null
	BeginObject
	EndObject
	BeginArray
	EndArray
)

// scanner states: what comes next.
const (
	stValue      uint8 = iota // a value
	stValueOrEnd              // a value or ']' (after '[')
	stKeyOrEnd                // a key or '}' (after '{')
	stAfter                   // ',' or the end of a container or of the input
	stDone                    // End
)

// Scanner reads one JSON value held in memory token by token, validating it
// as it goes (RFC 8259, UTF-8 strings, nesting bounded, nothing but
// whitespace after the value), without recursion and without allocating for
// nesting up to 256 deep. It is the package's one JSON scanner: the Decoder
// validates packets with it, and other layers use it to walk payloads
// without building a tree. The zero Scanner reads nothing; Reset starts it.
type Scanner struct {
	data         []byte
	i            int // where to scan next
	start, end   int // the last token is data[start:end]
	depth        int
	maxDepth     int
	state        uint8
	placeholders bool
	key          bool    // the last token is an object key
	pending      keyKind // the key whose value comes next (placeholders)
	phOK         bool    // the last EndObject is a placeholder
	phNum        int     // and its attachment index
	inline       [stackWords]uint64
	stack        []uint64 // bit d-1 set: the container at depth d is an object
	ph           phFrames
	err          error
}

// Reset makes s read data, which must hold one JSON value nested at most
// maxDepth deep, from the start. With placeholders set, each EndObject
// reports whether the object is a binary placeholder (see Placeholder).
func (s *Scanner) Reset(data []byte, maxDepth int, placeholders bool) {
	stack := s.stack
	*s = Scanner{data: data, maxDepth: maxDepth, placeholders: placeholders}
	s.stack = stack[:0]
}

// Raw is the last token's text in the input: for a String its quotes and
// escapes included, for a Number its digits as written.
func (s *Scanner) Raw() []byte { return s.data[s.start:s.end] }

// Key reports whether the last token is an object member's name.
func (s *Scanner) Key() bool { return s.key }

// Placeholder describes the last EndObject when s tracks placeholders:
// whether the object is a binary placeholder, and its attachment index, as
// the package function Placeholder reports them.
func (s *Scanner) Placeholder() (num int, ok bool) { return s.phNum, s.phOK }

// Depth is the number of containers open after the last token.
func (s *Scanner) Depth() int { return s.depth }

// Err is the error that ended the tokens, nil at the end of a valid value.
// It wraps ErrInvalidPacket and says what is wrong where.
func (s *Scanner) Err() error { return s.err }

func (s *Scanner) isObject(depth int) bool {
	w := (depth - 1) / 64
	if w < stackWords {
		return s.inline[w]&(1<<((depth-1)%64)) != 0
	}
	return s.stack[w-stackWords]&(1<<((depth-1)%64)) != 0
}

func (s *Scanner) push(object bool) bool {
	s.depth++
	if s.depth > s.maxDepth {
		s.failf(s.i, "nesting deeper than %d", s.maxDepth)
		return false
	}
	w, bit := (s.depth-1)/64, uint64(1)<<((s.depth-1)%64)
	var word *uint64
	if w < stackWords {
		word = &s.inline[w]
	} else {
		word = s.spill(w - stackWords)
	}
	if object {
		*word |= bit
	} else {
		*word &^= bit
	}
	return true
}

// spill returns word k of the stack beyond the inline words, growing it.
func (s *Scanner) spill(k int) *uint64 {
	for len(s.stack) <= k {
		s.stack = append(s.stack, 0)
	}
	return &s.stack[k]
}

// Next moves to the next token and returns its kind: End after the last
// one, or on an error (then Err says which).
func (s *Scanner) Next() Kind {
	data := s.data
	i := skipSpace(data, s.i)
	s.key = false
	switch s.state {
	case stDone:
		return End
	case stKeyOrEnd:
		if i < len(data) && data[i] == '}' {
			return s.closeObject(i)
		}
		return s.scanKey(i)
	case stValueOrEnd:
		if i < len(data) && data[i] == ']' {
			return s.closeArray(i)
		}
	case stAfter:
		if s.depth == 0 {
			if i != len(data) {
				return s.failf(i, "unexpected %q after the value", data[i])
			}
			s.state, s.i = stDone, i
			return End
		}
		if i >= len(data) {
			return s.failf(i, "unexpected end of input")
		}
		obj := s.isObject(s.depth)
		switch c := data[i]; {
		case c == ',':
			i = skipSpace(data, i+1)
			if obj {
				return s.scanKey(i)
			}
		case obj && c == '}':
			return s.closeObject(i)
		case !obj && c == ']':
			return s.closeArray(i)
		case obj:
			return s.failf(i, "unexpected %q in object", c)
		default:
			return s.failf(i, "unexpected %q in array", c)
		}
	}

	// A value at i.
	if i >= len(data) {
		return s.failf(i, "unexpected end of input")
	}
	pending := s.pending
	s.pending = keyOther
	s.start = i
	var k Kind
	var err error
	switch c := data[i]; {
	case c == '{' || c == '[':
		if pending != keyOther {
			s.ph.value(s.depth, pending, nil)
		}
		s.i, s.end = i+1, i+1
		if !s.push(c == '{') {
			return End
		}
		if c == '{' {
			s.state = stKeyOrEnd
			return BeginObject
		}
		s.state = stValueOrEnd
		return BeginArray
	case c == '"':
		k = String
		i, err = scanString(data, i)
	case c == 't':
		k = True
		i, err = scanLiteral(data, i, "true")
	case c == 'f':
		k = False
		i, err = scanLiteral(data, i, "false")
	case c == 'n':
		k = Null
		i, err = scanLiteral(data, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		k = Number
		i, err = scanNumber(data, i)
	default:
		return s.failf(i, "unexpected %q", c)
	}
	if err != nil {
		return s.fail(err)
	}
	if pending != keyOther {
		s.ph.value(s.depth, pending, data[s.start:i])
	}
	s.i, s.end, s.state = i, i, stAfter
	return k
}

func (s *Scanner) closeObject(i int) Kind {
	if s.placeholders {
		s.phNum, s.phOK = s.ph.close(s.depth)
	}
	s.depth--
	s.start, s.end, s.i, s.state = i, i+1, i+1, stAfter
	return EndObject
}

func (s *Scanner) closeArray(i int) Kind {
	s.depth--
	s.start, s.end, s.i, s.state = i, i+1, i+1, stAfter
	return EndArray
}

// scanKey scans `"key" :` at i.
func (s *Scanner) scanKey(i int) Kind {
	data := s.data
	if i >= len(data) || data[i] != '"' {
		if i >= len(data) {
			return s.failf(i, "unexpected end of input")
		}
		return s.failf(i, "unexpected %q, want an object key", data[i])
	}
	start := i
	i, err := scanString(data, i)
	if err != nil {
		return s.fail(err)
	}
	if s.placeholders {
		s.pending = classifyKey(data[start:i])
	}
	end := i
	i = skipSpace(data, i)
	if i >= len(data) || data[i] != ':' {
		return s.failf(i, "missing ':' after object key")
	}
	s.start, s.end, s.i, s.state, s.key = start, end, i+1, stValue, true
	return String
}

// failf ends the tokens with a jsonError; out of line, so that the error
// formatting does not weigh on Next.
//
//go:noinline
func (s *Scanner) failf(off int, format string, args ...any) Kind {
	return s.fail(jsonError(off, format, args...))
}

// fail ends the tokens with err.
func (s *Scanner) fail(err error) Kind {
	s.state, s.err = stDone, err
	return End
}

// scanJSON validates that data holds exactly one JSON value (RFC 8259, UTF-8,
// optional surrounding whitespace) nested at most maxDepth deep. For a binary
// packet (attachments >= 0) it also checks its placeholders as
// socket.io-parser's reconstructPacket does: every object it would replace
// with an attachment (its "_placeholder" is true) must index one of the
// attachments. Like reconstructPacket it does not look inside a placeholder:
// an invalid one nested in another placeholder is not an error.
func scanJSON(data []byte, maxDepth, attachments int) error {
	_, err := scanJSONElems(data, maxDepth, attachments, nil, false)
	return err
}

// scanJSONElems is scanJSON that, with elements set and data an array,
// also appends the array's top-level elements (sub-slices of data) to
// elems, as SplitArray would find them: a second pass spared.
func scanJSONElems(data []byte, maxDepth, attachments int, elems [][]byte, elements bool) ([][]byte, error) {
	var s Scanner
	s.Reset(data, maxDepth, attachments >= 0)
	elemStart := 0
	// The shallowest invalid placeholder not yet known to sit inside a
	// placeholder: errAt is the depth of the innermost open container that
	// holds it.
	var phErr error
	errAt := 0
	first, top := true, false // top: the value is an array, whose elements are recorded
	for {
		k := s.Next()
		if elements {
			switch {
			case first:
				first, top = false, k == BeginArray
			case !top:
			case s.depth == 1 && k >= String && k <= Null:
				elems = append(elems, data[s.start:s.end])
			case s.depth == 2 && (k == BeginObject || k == BeginArray):
				elemStart = s.start
			case s.depth == 1 && (k == EndObject || k == EndArray):
				elems = append(elems, data[elemStart:s.end])
			}
		}
		switch k {
		case End:
			if s.err != nil {
				return elems, s.err
			}
			return elems, phErr
		case EndObject:
			d := s.depth + 1 // the depth of the object that ended
			if s.phOK {
				if phErr != nil && errAt == d {
					phErr = nil // inside this placeholder: never looked at
				}
				if (s.phNum < 0 || s.phNum >= attachments) && (phErr == nil || s.depth < errAt) {
					phErr = jsonError(s.start, "placeholder does not refer to one of the %d attachments", attachments)
					errAt = s.depth
				}
			} else if phErr != nil && errAt == d {
				errAt = s.depth
			}
		case EndArray:
			if phErr != nil && errAt == s.depth+1 {
				errAt = s.depth
			}
		}
	}
}

// Word-at-a-time masks for scanString (the classic "has a byte less than
// n" and "has a zero byte" tests, exact for n <= 128).
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// plainWord reports whether none of the 8 bytes in w is a quote, a
// backslash or a control character.
func plainWord(w uint64) bool {
	lt20 := (w - lsb*0x20) &^ w
	q := w ^ lsb*'"'
	b := w ^ lsb*'\\'
	quote := (q - lsb) &^ q
	bslash := (b - lsb) &^ b
	return (lt20|quote|bslash)&msb == 0
}

// scanString scans the string starting at data[i] == '"' and returns the
// offset just past its closing quote.
func scanString(data []byte, i int) (int, error) {
	start := i
	i++
	var high uint64 // non-zero once a byte >= 0x80 was seen
	for {
		for i+8 <= len(data) {
			w := binary.LittleEndian.Uint64(data[i:])
			if !plainWord(w) {
				break
			}
			high |= w & msb
			i += 8
		}
		if i >= len(data) {
			return i, jsonError(start, "unterminated string")
		}
		c := data[i]
		switch {
		case c == '"':
			if high != 0 && !utf8.Valid(data[start:i]) {
				return i, jsonError(start, "invalid UTF-8 in string")
			}
			return i + 1, nil
		case c == '\\':
			if i+1 >= len(data) {
				return i, jsonError(i, "unexpected end of input in string")
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(data) {
					return i, jsonError(i, "short \\u escape")
				}
				for _, h := range data[i+2 : i+6] {
					if unhex(h) < 0 {
						return i, jsonError(i, "invalid \\u escape")
					}
				}
				i += 6
			default:
				return i, jsonError(i, "invalid escape \\%c", data[i+1])
			}
		case c < 0x20:
			return i, jsonError(i, "control character %#02x in string", c)
		default:
			if c >= utf8.RuneSelf {
				high = 1
			}
			i++
		}
	}
}

func scanLiteral(data []byte, i int, lit string) (int, error) {
	if len(data)-i < len(lit) || string(data[i:i+len(lit)]) != lit {
		return i, jsonError(i, "invalid literal, want %s", lit)
	}
	return i + len(lit), nil
}

// scanNumber scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func scanNumber(data []byte, i int) (int, error) {
	start := i
	if data[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case digits() == 0:
		return i, jsonError(start, "invalid number")
	}
	if i < len(data) && data[i] == '.' {
		i++
		if digits() == 0 {
			return i, jsonError(start, "invalid number")
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if digits() == 0 {
			return i, jsonError(start, "invalid number")
		}
	}
	return i, nil
}

func unhex(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// AppendUnquoted appends the decoded contents s of a JSON string (without its
// quotes) to dst: escapes are resolved, other bytes copied as they are, and
// unpaired surrogates become U+FFFD. s must hold only valid escapes (as the
// Decoder checks); decoding stops at a malformed or truncated one.
func AppendUnquoted(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return dst
		}
		switch s[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, n := decodeU(s[i:])
			if n == 0 {
				return dst
			}
			dst = utf8.AppendRune(dst, r)
			i += n
			continue
		default: // '"', '\\', '/'
			dst = append(dst, s[i+1])
		}
		i += 2
	}
	return dst
}

// decodeU decodes the \uXXXX escape (or surrogate pair) at the start of s and
// returns the rune and the number of bytes used, 0 if malformed.
func decodeU(s []byte) (rune, int) {
	hex4 := func(b []byte) rune {
		if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
			return -1
		}
		var r rune
		for _, h := range b[2:6] {
			v := unhex(h)
			if v < 0 {
				return -1
			}
			r = r<<4 | v
		}
		return r
	}
	r := hex4(s)
	if r < 0 {
		return 0, 0
	}
	if r >= 0xD800 && r < 0xDC00 {
		if lo := hex4(s[6:]); lo >= 0xDC00 && lo < 0xE000 {
			return (r-0xD800)<<10 | (lo - 0xDC00) + 0x10000, 12
		}
		return utf8.RuneError, 6
	}
	if r >= 0xDC00 && r < 0xE000 {
		return utf8.RuneError, 6
	}
	return r, 6
}

// skipValue returns the offset just past the JSON value starting at data[i]
// (which must not be whitespace). It trusts the structure of data (the
// Decoder validated it) and only tracks strings and bracket depth, but it
// never reads out of bounds and reports truncated input.
func skipValue(data []byte, i int) (int, error) {
	if i >= len(data) {
		return i, jsonError(i, "missing value")
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '[', '{':
		depth := 0
		for i < len(data) {
			switch data[i] {
			case '"':
				var err error
				if i, err = skipString(data, i); err != nil {
					return i, err
				}
				continue
			case '[', '{':
				depth++
			case ']', '}':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
			i++
		}
		return i, jsonError(i, "unexpected end of input")
	case ',', ']', '}', ':':
		return i, jsonError(i, "missing value")
	}
	start := i
	for i < len(data) {
		switch c := data[i]; {
		case c == ',' || c == ']' || c == '}' || c == ':' || isSpace(c):
			return i, nil
		case c == '"' || c == '[' || c == '{':
			return i, jsonError(start, "malformed scalar")
		}
		i++
	}
	return i, nil
}

func skipString(data []byte, i int) (int, error) {
	start := i
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1, nil
		}
	}
	return i, jsonError(start, "unterminated string")
}
