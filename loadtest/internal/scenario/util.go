package scenario

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

func jsonString(s string) []byte { return socketio.AppendString(nil, s) }

// padding returns a JSON string of n 'x' characters.
func padding(n int) []byte { return jsonString(strings.Repeat("x", n)) }

func errJoinRefused(args [][]byte) error {
	return fmt.Errorf("scenario: join acked with %s", bytes.Join(args, []byte(",")))
}

func ratio(num, den float64) float64 {
	if den == 0 {
		return 0
	}
	return num / den
}
