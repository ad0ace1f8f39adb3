package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestChannelConfigRate: a connected channel's config rate_per_second paces
// its sender through the shared limiter; a sender without one is not paced.
func TestChannelConfigRate(t *testing.T) {
	s := newStack(t)
	c := s.raw("channel-rate")
	c.must(http.StatusCreated, "POST", "/v1/channels", map[string]any{"type": "sandbox", "config": map[string]any{"rate_per_second": 2},
		"senders": []map[string]any{{"channel": "sms", "address": "+15005550100"}}}, nil)
	senders := []string{"+15005550100", "+15005550101"} // paced, and the unpaced baseline
	var ids []string
	for i := range 4 {
		for j, from := range senders {
			ids = append(ids, c.send(map[string]any{"channel": "sms", "from": from, "to": fmt.Sprintf("+7999002%d%03d", j, i), "text": "hi"}).ID)
		}
	}
	for _, id := range ids {
		c.waitDelivered(id)
	}
	// Each sender's sandbox submissions, as offsets from its first.
	var offsets [2][]time.Duration
	for j, from := range senders {
		var ats []time.Time
		if err := s.pg(t).QueryRow(context.Background(), `SELECT array_agg(created_at ORDER BY created_at) FROM sandbox_submissions WHERE from_addr = $1`, from).Scan(&ats); err != nil || len(ats) != 4 {
			t.Fatalf("submissions from %s: %v %v", from, ats, err)
		}
		for _, at := range ats {
			offsets[j] = append(offsets[j], at.Sub(ats[0]))
		}
	}
	paced, baseline := offsets[0], offsets[1]
	t.Logf("paced %v, baseline %v", paced, baseline)
	// One slot per 500 ms: the i-th send comes no sooner than i slots after
	// the first (less a little for the first's own lateness).
	for i, d := range paced {
		if d < time.Duration(i)*500*time.Millisecond-150*time.Millisecond {
			t.Fatalf("paced send %d at +%s, want >= +%dms", i, d, i*500)
		}
	}
	if baseline[3] >= paced[3]-500*time.Millisecond {
		t.Fatalf("unpaced sender spanned %s, paced %s: the pacing is not the channel's", baseline[3], paced[3])
	}
}
