package session

import (
	"fmt"
	"testing"
)

// TestEchoAllocs pins the allocations of the session layer's echo path: a
// client event with an ack answered by its handler (Decode, dispatch, the
// ack's encoding; the connection's Send costs nothing here). A borrowing
// handler costs none; an owning one the Event it keeps. The ack is encoded
// in pooled scratch memory (sendPacket); each run measures a batch of
// echoes, so a fraction of an allocation per echo still shows.
func TestEchoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	const batch = 20
	for _, tc := range []struct {
		inline, borrowed, elements bool
		want                       float64 // allocations per echo
	}{
		{inline: true, borrowed: true, elements: true, want: 0},
		{inline: true, borrowed: true, want: 0},
		{inline: false, borrowed: true, want: 0},
		{inline: false, borrowed: true, elements: true, want: 0},
		{inline: true, borrowed: false, want: 1},
		{inline: false, borrowed: false, want: 1},
	} {
		name := fmt.Sprintf("inline=%v/borrowed=%v/elements=%v", tc.inline, tc.borrowed, tc.elements)
		t.Run(name, func(t *testing.T) {
			c, done := echoClient(t, tc.inline, tc.borrowed, tc.elements)
			msg := []byte(`21["echo","x",{"a":[1,2]}]`)
			echo := func() {
				for range batch {
					c.onMessage(msg, false)
					<-done
				}
			}
			echo() // warm the pools
			got := testing.AllocsPerRun(50, echo) / batch
			if got != tc.want {
				t.Errorf("%.2f allocations per echo, want %v", got, tc.want)
			}
		})
	}
}
