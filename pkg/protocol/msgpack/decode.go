package msgpack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrInvalid is wrapped by every decoding error.
var ErrInvalid = errors.New("msgpack: invalid data")

// errShort reports data that ends inside a value.
var errShort = fmt.Errorf("%w: unexpected end of data", ErrInvalid)

// Type is the kind of a MessagePack value.
type Type uint8

// Value kinds.
const (
	TypeInvalid Type = iota
	TypeNil
	TypeBool
	TypeInt   // a negative integer: Token.Int
	TypeUint  // a non-negative integer: Token.Uint
	TypeFloat // float32 or float64: Token.Float
	TypeStr   // Token.Bytes
	TypeBin   // Token.Bytes
	TypeArray // Token.Len values follow
	TypeMap   // Token.Len key/value pairs follow
	TypeExt   // Token.Ext and Token.Bytes
)

var typeNames = [...]string{"invalid", "nil", "bool", "int", "uint", "float", "str", "bin", "array", "map", "ext"}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "invalid"
}

// Token is one decoded header: a whole scalar, or the header of an array or
// map whose elements follow.
type Token struct {
	Type  Type
	Bool  bool
	Int   int64   // TypeInt (always < 0)
	Uint  uint64  // TypeUint
	Float float64 // TypeFloat
	// Float32 reports a float32 on the wire.
	Float32 bool
	Bytes   []byte // TypeStr, TypeBin, TypeExt: a sub-slice of the input
	Len     int    // TypeArray, TypeMap
	Ext     int8   // TypeExt
}

// Reader decodes MessagePack from a byte slice. The zero value reads nothing;
// use NewReader or Reset.
type Reader struct {
	b   []byte
	off int
}

// NewReader returns a Reader of b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Reset makes r read b from its start.
func (r *Reader) Reset(b []byte) { r.b, r.off = b, 0 }

// Offset is the number of bytes consumed.
func (r *Reader) Offset() int { return r.off }

// Remaining is the number of bytes left.
func (r *Reader) Remaining() int { return len(r.b) - r.off }

func (r *Reader) take(n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.off {
		return nil, errShort
	}
	p := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return p, nil
}

func (r *Reader) u8() (uint8, error) {
	if r.off >= len(r.b) {
		return 0, errShort
	}
	v := r.b[r.off]
	r.off++
	return v, nil
}

func (r *Reader) u16() (uint16, error) {
	p, err := r.take(2)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(p), nil
}

func (r *Reader) u32() (uint32, error) {
	p, err := r.take(4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(p), nil
}

func (r *Reader) u64() (uint64, error) {
	p, err := r.take(8)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(p), nil
}

// lenOf reads a length of size bytes (1, 2 or 4).
func (r *Reader) lenOf(size int) (int, error) {
	switch size {
	case 1:
		v, err := r.u8()
		return int(v), err
	case 2:
		v, err := r.u16()
		return int(v), err
	default:
		v, err := r.u32()
		return int(v), err
	}
}

// Next decodes the next header. For arrays and maps the elements are left
// to the following calls. Lengths are checked against the remaining input:
// an array of n elements needs at least n more bytes.
func (r *Reader) Next() (Token, error) {
	c, err := r.u8()
	if err != nil {
		return Token{}, err
	}
	switch {
	case c <= 0x7f:
		return Token{Type: TypeUint, Uint: uint64(c)}, nil
	case c >= 0xe0:
		return Token{Type: TypeInt, Int: int64(int8(c))}, nil
	case c&0xe0 == 0xa0:
		return r.bytesToken(TypeStr, int(c&0x1f))
	case c&0xf0 == 0x90:
		return r.collection(TypeArray, int(c&0x0f), 1)
	case c&0xf0 == 0x80:
		return r.collection(TypeMap, int(c&0x0f), 2)
	}
	switch c {
	case 0xc0:
		return Token{Type: TypeNil}, nil
	case 0xc2, 0xc3:
		return Token{Type: TypeBool, Bool: c == 0xc3}, nil
	case 0xc4, 0xc5, 0xc6:
		n, err := r.lenOf(1 << (c - 0xc4))
		if err != nil {
			return Token{}, err
		}
		return r.bytesToken(TypeBin, n)
	case 0xd9, 0xda, 0xdb:
		n, err := r.lenOf(1 << (c - 0xd9))
		if err != nil {
			return Token{}, err
		}
		return r.bytesToken(TypeStr, n)
	case 0xc7, 0xc8, 0xc9:
		n, err := r.lenOf(1 << (c - 0xc7))
		if err != nil {
			return Token{}, err
		}
		return r.extToken(n)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return r.extToken(1 << (c - 0xd4))
	case 0xca:
		v, err := r.u32()
		return Token{Type: TypeFloat, Float: float64(math.Float32frombits(v)), Float32: true}, err
	case 0xcb:
		v, err := r.u64()
		return Token{Type: TypeFloat, Float: math.Float64frombits(v)}, err
	case 0xcc:
		v, err := r.u8()
		return Token{Type: TypeUint, Uint: uint64(v)}, err
	case 0xcd:
		v, err := r.u16()
		return Token{Type: TypeUint, Uint: uint64(v)}, err
	case 0xce:
		v, err := r.u32()
		return Token{Type: TypeUint, Uint: uint64(v)}, err
	case 0xcf:
		v, err := r.u64()
		return Token{Type: TypeUint, Uint: v}, err
	case 0xd0:
		v, err := r.u8()
		return intToken(int64(int8(v))), err
	case 0xd1:
		v, err := r.u16()
		return intToken(int64(int16(v))), err
	case 0xd2:
		v, err := r.u32()
		return intToken(int64(int32(v))), err
	case 0xd3:
		v, err := r.u64()
		return intToken(int64(v)), err
	case 0xdc, 0xdd:
		n, err := r.lenOf(2 << (c - 0xdc))
		if err != nil {
			return Token{}, err
		}
		return r.collection(TypeArray, n, 1)
	case 0xde, 0xdf:
		n, err := r.lenOf(2 << (c - 0xde))
		if err != nil {
			return Token{}, err
		}
		return r.collection(TypeMap, n, 2)
	}
	return Token{}, fmt.Errorf("%w: reserved byte 0x%02x", ErrInvalid, c)
}

// intToken normalizes a signed integer: non-negative values are TypeUint.
func intToken(v int64) Token {
	if v >= 0 {
		return Token{Type: TypeUint, Uint: uint64(v)}
	}
	return Token{Type: TypeInt, Int: v}
}

func (r *Reader) bytesToken(t Type, n int) (Token, error) {
	p, err := r.take(n)
	if err != nil {
		return Token{}, err
	}
	return Token{Type: t, Bytes: p}, nil
}

func (r *Reader) extToken(n int) (Token, error) {
	typ, err := r.u8()
	if err != nil {
		return Token{}, err
	}
	p, err := r.take(n)
	if err != nil {
		return Token{}, err
	}
	return Token{Type: TypeExt, Ext: int8(typ), Bytes: p}, nil
}

func (r *Reader) collection(t Type, n, per int) (Token, error) {
	if n > (len(r.b)-r.off)/per {
		return Token{}, errShort
	}
	return Token{Type: t, Len: n}, nil
}

// Skip consumes one whole value, nested ones included, without recursion.
func (r *Reader) Skip() error {
	for pending := 1; pending > 0; pending-- {
		t, err := r.Next()
		if err != nil {
			return err
		}
		switch t.Type {
		case TypeArray:
			pending += t.Len
		case TypeMap:
			pending += 2 * t.Len
		}
	}
	return nil
}

// Raw consumes one whole value and returns its encoding (a sub-slice).
func (r *Reader) Raw() ([]byte, error) {
	start := r.off
	if err := r.Skip(); err != nil {
		return nil, err
	}
	return r.b[start:r.off:r.off], nil
}

// String decodes a str value.
func (r *Reader) String() (string, error) {
	t, err := r.Next()
	if err != nil {
		return "", err
	}
	if t.Type != TypeStr {
		return "", fmt.Errorf("%w: %s where str expected", ErrInvalid, t.Type)
	}
	return string(t.Bytes), nil
}

// Timestamp decodes the payload of a timestamp extension (type -1) in any of
// its three sizes (4, 8 or 12 bytes).
func Timestamp(data []byte) (time.Time, error) {
	switch len(data) {
	case 4:
		return time.Unix(int64(binary.BigEndian.Uint32(data)), 0).UTC(), nil
	case 8:
		v := binary.BigEndian.Uint64(data)
		return time.Unix(int64(v&(1<<34-1)), int64(v>>34)).UTC(), nil
	case 12:
		nsec := binary.BigEndian.Uint32(data)
		if nsec >= 1e9 {
			return time.Time{}, fmt.Errorf("%w: timestamp nanoseconds out of range", ErrInvalid)
		}
		return time.Unix(int64(binary.BigEndian.Uint64(data[4:])), int64(nsec)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%w: timestamp of %d bytes", ErrInvalid, len(data))
}
