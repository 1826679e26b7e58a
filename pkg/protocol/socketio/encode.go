package socketio

import (
	"strconv"
	"unicode/utf8"
)

// Append appends the text encoding of p to dst. BINARY_EVENT and BINARY_ACK
// write len(p.Attachments) as the attachment count; the namespace is written
// only when it is not "/"; the ID only when HasID.
//
// The format is that of the protocol's "Packet encoding" section:
//
//	<type>[<attachments>-][<namespace>,][<id>][<json data>]
//
// Data is copied as is, so it must already be the JSON the type calls for,
// and Namespace must not contain a comma (it ends the namespace on the
// wire). The attachments themselves are sent by the transport as binary
// messages right after this text, in order. With a reused dst Append does
// not allocate.
func (p *Packet) Append(dst []byte) []byte {
	dst = strconv.AppendUint(dst, uint64(p.Type), 10)
	if p.Type == BinaryEvent || p.Type == BinaryAck {
		dst = strconv.AppendInt(dst, int64(len(p.Attachments)), 10)
		dst = append(dst, '-')
	}
	if p.Namespace != "" && p.Namespace != "/" {
		dst = append(dst, p.Namespace...)
		dst = append(dst, ',')
	}
	if p.HasID {
		dst = strconv.AppendUint(dst, p.ID, 10)
	}
	return append(dst, p.Data...)
}

// AppendArray appends the JSON array of the given raw JSON elements.
func AppendArray(dst []byte, elems ...[]byte) []byte {
	dst = append(dst, '[')
	for i, e := range elems {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, e...)
	}
	return append(dst, ']')
}

// AppendEvent appends the data of an EVENT packet, ["name",args...], where
// every arg is raw JSON. It allocates nothing beyond growing dst.
func AppendEvent(dst []byte, name string, args ...[]byte) []byte {
	dst = append(dst, '[')
	dst = AppendString(dst, name)
	for _, a := range args {
		dst = append(dst, ',')
		dst = append(dst, a...)
	}
	return append(dst, ']')
}

// AppendPlaceholder appends the placeholder that stands for attachment num
// in the data of a binary packet: {"_placeholder":true,"num":N}.
func AppendPlaceholder(dst []byte, num int) []byte {
	dst = append(dst, `{"_placeholder":true,"num":`...)
	dst = strconv.AppendInt(dst, int64(num), 10)
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string.
//
// Like JSON.stringify it escapes only '"', '\\' and control characters, so
// text stays readable on the wire; invalid UTF-8 becomes U+FFFD so that the
// result is always valid JSON.
func AppendString(dst []byte, s string) []byte { return appendString(dst, s) }

// AppendStringBytes is AppendString for a []byte.
func AppendStringBytes(dst, s []byte) []byte { return appendString(dst, s) }

func appendString[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			// At most UTFMax bytes are converted: no allocation for []byte.
			r, n := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
			if r != utf8.RuneError || n != 1 {
				i += n
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendErrorData appends the data of a CONNECT_ERROR packet as socket.io
// servers send it: {"message":"..."} or, when data is not nil,
// {"message":"...","data":<data>} with data as raw JSON.
func AppendErrorData(dst []byte, message string, data []byte) []byte {
	dst = append(dst, `{"message":`...)
	dst = AppendString(dst, message)
	if data != nil {
		dst = append(dst, `,"data":`...)
		dst = append(dst, data...)
	}
	return append(dst, '}')
}
