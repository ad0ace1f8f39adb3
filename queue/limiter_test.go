package queue

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboardhq/switchboard/testenv"
)

// TestLimiterReservesSlots: at 10/s the first message goes at once, the
// next ones get slots 100 ms apart, and a message coming back at its slot
// goes straight through instead of queuing again.
func TestLimiterReservesSlots(t *testing.T) {
	opt, _ := redis.ParseURL(testenv.RedisURL(t))
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	l := NewLimiter(rdb)
	ctx := context.Background()
	var waits []time.Duration
	for i := range 5 {
		w, err := l.Reserve(ctx, "acct:sms:+15005550000", fmt.Sprint("m", i), 10)
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, w)
	}
	if waits[0] != 0 {
		t.Fatalf("first wait %s, want 0", waits[0])
	}
	for i := 1; i < len(waits); i++ {
		gap := waits[i] - waits[i-1]
		// Each slot is one interval after the previous; the wait shrinks by
		// however long passed between the calls (generous on a busy box).
		if gap < 40*time.Millisecond || gap > 101*time.Millisecond {
			t.Fatalf("slot %d is %s after slot %d, want 100ms (waits %v)", i, gap, i-1, waits)
		}
	}
	// Asking again for a message with a reservation does not reserve anew.
	again, _ := l.Reserve(ctx, "acct:sms:+15005550000", "m4", 10)
	if again > waits[4] || again < waits[4]-50*time.Millisecond {
		t.Fatalf("re-asking m4 gave %s, want about %s", again, waits[4])
	}
	time.Sleep(again + 10*time.Millisecond)
	if w, _ := l.Reserve(ctx, "acct:sms:+15005550000", "m4", 10); w != 0 {
		t.Fatalf("m4 at its slot waits %s, want 0", w)
	}
	// Another sender is not affected.
	if w, _ := l.Reserve(ctx, "acct:sms:+15005559999", "x", 10); w != 0 {
		t.Fatalf("other sender waits %s", w)
	}
}

// TestLimiterKeysOutliveTheirSlots: a reservation far in the future keeps
// its keys until the slot has passed, or the sender would escape its rate.
func TestLimiterKeysOutliveTheirSlots(t *testing.T) {
	opt, _ := redis.ParseURL(testenv.RedisURL(t))
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	l := NewLimiter(rdb)
	ctx := context.Background()
	var last time.Duration
	for i := range 100 {
		w, err := l.Reserve(ctx, "slow", fmt.Sprint("s", i), 1)
		if err != nil {
			t.Fatal(err)
		}
		last = w
	}
	for _, key := range []string{"sb:rl:slow", "sb:rl:res:s99"} {
		ttl, err := rdb.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl < last {
			t.Fatalf("%s expires in %s, before its slot in %s", key, ttl, last)
		}
	}
}
