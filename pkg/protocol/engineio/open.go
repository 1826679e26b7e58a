package engineio

import (
	"encoding/json"
	"strconv"
	"time"
)

// Open is the data of the open packet the server sends after a handshake
// ("Handshake" in the spec). Its JSON has exactly the keys sid, upgrades,
// pingInterval, pingTimeout (milliseconds) and maxPayload (bytes).
type Open struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"`
	PingTimeout  int64    `json:"pingTimeout"`
	MaxPayload   int64    `json:"maxPayload"`
}

// NewOpen returns the open data with the durations in milliseconds.
func NewOpen(sid string, upgrades []string, pingInterval, pingTimeout time.Duration, maxPayload int) Open {
	return Open{
		SID:          sid,
		Upgrades:     upgrades,
		PingInterval: pingInterval.Milliseconds(),
		PingTimeout:  pingTimeout.Milliseconds(),
		MaxPayload:   int64(maxPayload),
	}
}

// AppendJSON appends the JSON object of o to dst. Upgrades is never null.
func (o Open) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"sid":`...)
	dst = strconv.AppendQuote(dst, o.SID)
	dst = append(dst, `,"upgrades":[`...)
	for i, u := range o.Upgrades {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendQuote(dst, u)
	}
	dst = append(dst, `],"pingInterval":`...)
	dst = strconv.AppendInt(dst, o.PingInterval, 10)
	dst = append(dst, `,"pingTimeout":`...)
	dst = strconv.AppendInt(dst, o.PingTimeout, 10)
	dst = append(dst, `,"maxPayload":`...)
	dst = strconv.AppendInt(dst, o.MaxPayload, 10)
	return append(dst, '}')
}

// Frame returns the encoded open packet ("0" followed by the JSON).
func (o Open) Frame() Frame {
	return Frame{Data: o.AppendJSON(append(make([]byte, 0, 128), '0'))}
}

// ParseOpen decodes the data of an open packet (what a client receives).
func ParseOpen(data []byte) (Open, error) {
	var o Open
	err := json.Unmarshal(data, &o)
	return o, err
}
