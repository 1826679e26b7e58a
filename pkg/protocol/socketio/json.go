package socketio

import (
	"encoding/binary"
	"fmt"
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

// keyKind classifies object keys the placeholder check cares about.
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
	truthy bool // "_placeholder" is truthy
	numOK  bool // "num" is a non-negative integer
	num    int
}

// phCheck verifies, like socket.io-parser's reconstructPacket, that every
// object whose "_placeholder" member is truthy has a "num" member that is an
// integer in [0, count).
type phCheck struct {
	count  int
	n      int        // open frames
	inline [8]phFrame // frames 0..7
	spill  []phFrame  // frames 8.., rarely used
}

func (c *phCheck) at(k int) *phFrame {
	if k < len(c.inline) {
		return &c.inline[k]
	}
	return &c.spill[k-len(c.inline)]
}

func (c *phCheck) frame(depth int) *phFrame {
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
	*f = phFrame{depth: depth}
	return f
}

// value records a member value (raw scalar, or a container when raw is nil)
// of the object at depth.
func (c *phCheck) value(depth int, k keyKind, raw []byte) {
	switch k {
	case keyPlaceholder:
		c.frame(depth).truthy = raw == nil || truthy(raw)
	case keyNum:
		f := c.frame(depth)
		f.num, f.numOK = smallUint(raw)
	}
}

// close is called when the object at depth ends at offset off.
func (c *phCheck) close(depth, off int) error {
	if c.n == 0 {
		return nil
	}
	f := c.at(c.n - 1)
	if f.depth != depth {
		return nil
	}
	c.n--
	if f.truthy && (!f.numOK || f.num >= c.count) {
		return jsonError(off, "placeholder does not refer to one of the %d attachments", c.count)
	}
	return nil
}

// truthy reports whether a raw JSON scalar is truthy in JavaScript.
func truthy(raw []byte) bool {
	switch raw[0] {
	case 't':
		return true
	case 'f', 'n':
		return false
	case '"':
		return len(raw) > 2
	}
	// A number: truthy unless every digit of its mantissa is zero.
	for _, c := range raw {
		if c == 'e' || c == 'E' {
			break
		}
		if c >= '1' && c <= '9' {
			return true
		}
	}
	return false
}

// smallUint parses raw as a plain non-negative JSON integer (no fraction, no
// exponent). Values too large for any attachment index saturate.
func smallUint(raw []byte) (int, bool) {
	if raw == nil || len(raw) == 0 {
		return 0, false
	}
	n := 0
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < 1<<30 {
			n = n*10 + int(c-'0')
		}
	}
	return n, true
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

// scanJSON validates that data holds exactly one JSON value (RFC 8259, UTF-8,
// optional surrounding whitespace) nested at most maxDepth deep. When ph is
// not nil it also checks the placeholders of a binary packet.
func scanJSON(data []byte, maxDepth int, ph *phCheck) error {
	var inline [stackWords]uint64
	stack := inline[:] // bit d-1 set: the container at depth d is an object
	if maxDepth > stackWords*64 {
		stack = make([]uint64, (maxDepth+63)/64)
	}
	isObject := func(depth int) bool { return stack[(depth-1)/64]&(1<<((depth-1)%64)) != 0 }

	depth := 0
	pending := keyOther // the key whose value comes next (placeholder check)
	i := 0
	for {
		// A value is expected at i.
		i = skipSpace(data, i)
		if i >= len(data) {
			return jsonError(i, "unexpected end of input")
		}
		c := data[i]
		switch {
		case c == '{' || c == '[':
			if ph != nil && pending != keyOther {
				ph.value(depth, pending, nil)
			}
			pending = keyOther
			depth++
			if depth > maxDepth {
				return jsonError(i, "nesting deeper than %d", maxDepth)
			}
			w, bit := (depth-1)/64, uint64(1)<<((depth-1)%64)
			i = skipSpace(data, i+1)
			if c == '[' {
				stack[w] &^= bit
				if i < len(data) && data[i] == ']' {
					i++
					depth--
					break
				}
				continue // first element
			}
			stack[w] |= bit
			if i < len(data) && data[i] == '}' {
				i++
				depth--
				break
			}
			var err error
			if i, pending, err = scanKey(data, i, ph); err != nil {
				return err
			}
			continue // first member value
		default:
			start := i
			var err error
			switch {
			case c == '"':
				i, err = scanString(data, i)
			case c == 't':
				i, err = scanLiteral(data, i, "true")
			case c == 'f':
				i, err = scanLiteral(data, i, "false")
			case c == 'n':
				i, err = scanLiteral(data, i, "null")
			case c == '-' || (c >= '0' && c <= '9'):
				i, err = scanNumber(data, i)
			default:
				err = jsonError(i, "unexpected %q", c)
			}
			if err != nil {
				return err
			}
			if ph != nil && pending != keyOther {
				ph.value(depth, pending, data[start:i])
			}
			pending = keyOther
		}

		// A value ended at i: close containers until a comma asks for more.
		for {
			if depth == 0 {
				if i = skipSpace(data, i); i != len(data) {
					return jsonError(i, "unexpected %q after the value", data[i])
				}
				return nil
			}
			i = skipSpace(data, i)
			if i >= len(data) {
				return jsonError(i, "unexpected end of input")
			}
			obj := isObject(depth)
			c := data[i]
			if c == ',' {
				i++
				if obj {
					var err error
					if i, pending, err = scanKey(data, skipSpace(data, i), ph); err != nil {
						return err
					}
				}
				break
			}
			if obj && c == '}' {
				if ph != nil {
					if err := ph.close(depth, i); err != nil {
						return err
					}
				}
			} else if obj || c != ']' {
				if obj {
					return jsonError(i, "unexpected %q in object", c)
				}
				return jsonError(i, "unexpected %q in array", c)
			}
			i++
			depth--
		}
	}
}

// scanKey scans `"key" :` at i and returns the offset of the value.
func scanKey(data []byte, i int, ph *phCheck) (int, keyKind, error) {
	if i >= len(data) || data[i] != '"' {
		if i >= len(data) {
			return i, keyOther, jsonError(i, "unexpected end of input")
		}
		return i, keyOther, jsonError(i, "unexpected %q, want an object key", data[i])
	}
	start := i
	i, err := scanString(data, i)
	if err != nil {
		return i, keyOther, err
	}
	k := keyOther
	if ph != nil {
		k = classifyKey(data[start:i])
	}
	i = skipSpace(data, i)
	if i >= len(data) || data[i] != ':' {
		return i, k, jsonError(i, "missing ':' after object key")
	}
	return i + 1, k, nil
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
