package redis

import (
	"bytes"
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
// adapter publishes them as notepack msgpack, with Buffers as bin (wire format
// §1). The functions here convert between the two without building a tree.

// maxDepth bounds the nesting of values in both directions.
const maxDepth = 100

var errTranscode = errors.New("redis: cannot transcode value")

// jsonToMsgpack appends the msgpack form of the JSON value js, read with
// socketio's Scanner (the Decoder's validation, so both agree on what is
// valid JSON). Placeholders, as socketio.Placeholder recognises them (the
// rule socket.io-parser applies, and the session layer too), whose num
// indexes attachments become bin values with that attachment; an object
// that only looks like one stays a map. Integers keep their exact value up
// to 64 bits; other numbers become float64, except integral ones that fit
// in 64 bits, which notepack would also write as integers.
func jsonToMsgpack(dst, js []byte, attachments [][]byte) ([]byte, error) {
	var s socketio.Scanner
	s.Reset(js, maxDepth, len(attachments) > 0)
	// open[d-1] is the container at depth d: where its header is in dst,
	// and how many elements (members) it has so far.
	type container struct{ at, n int }
	var inline [16]container
	open := inline[:0]
	for {
		k := s.Next()
		d := s.Depth()
		switch k {
		case socketio.End:
			if err := s.Err(); err != nil {
				return dst, fmt.Errorf("%w: %w", errTranscode, err)
			}
			return dst, nil
		case socketio.BeginObject, socketio.BeginArray:
			if d > 1 {
				open[d-2].n++
			}
			fix := byte(0x90)
			if k == socketio.BeginObject {
				fix = 0x80
			}
			open = append(open, container{at: len(dst)})
			dst = append(dst, fix) // the real header is written at the end
			continue
		case socketio.EndObject:
			c := open[d]
			open = open[:d]
			if num, ok := s.Placeholder(); ok && num >= 0 && num < len(attachments) {
				dst = msgpack.AppendBinary(dst[:c.at], attachments[num])
				continue
			}
			dst = endCollection(dst, c.at, c.n, 0x80, false)
			continue
		case socketio.EndArray:
			c := open[d]
			open = open[:d]
			dst = endCollection(dst, c.at, c.n, 0x90, true)
			continue
		}
		if d > 0 && !s.Key() {
			open[d-1].n++ // a member counts once, at its value
		}
		switch k {
		case socketio.String:
			dst = appendString(dst, s.Raw())
		case socketio.Number:
			var err error
			if dst, err = appendNumber(dst, s.Raw()); err != nil {
				return dst, err
			}
		case socketio.True:
			dst = append(dst, 0xc3)
		case socketio.False:
			dst = append(dst, 0xc2)
		case socketio.Null:
			dst = append(dst, 0xc0)
		}
	}
}

// endCollection writes the real header of the container whose one-byte
// placeholder header is at dst[at], moving the elements when n needs a
// longer one.
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

// appendString transcodes raw, a JSON string validated by the Scanner
// (quotes included), to a msgpack str.
func appendString(dst, raw []byte) []byte {
	raw = raw[1 : len(raw)-1]
	if bytes.IndexByte(raw, '\\') >= 0 {
		raw = socketio.AppendUnquoted(make([]byte, 0, len(raw)), raw)
	}
	return msgpack.AppendStringBytes(dst, raw)
}

// appendNumber transcodes text, a JSON number validated by the Scanner.
func appendNumber(dst, raw []byte) ([]byte, error) {
	if v, ok := smallInt(raw); ok {
		return msgpack.AppendInt(dst, v), nil
	}
	integer := !bytes.ContainsAny(raw, ".eE")
	text := string(raw)
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
		return dst, fmt.Errorf("%w: bad number %q", errTranscode, text)
	}
	// notepack writes every integral number as an integer.
	if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
		return msgpack.AppendInt(dst, int64(f)), nil
	}
	return msgpack.AppendFloat64(dst, f), nil
}

// smallInt parses the common case of a plain integer of at most 18 digits
// without allocating.
func smallInt(raw []byte) (int64, bool) {
	digits := raw
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if raw[0] == '-' {
		v = -v
	}
	return v, true
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
