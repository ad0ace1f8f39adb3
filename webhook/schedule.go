package webhook

import "time"

// MaxDelay is the longest wait between two attempts, whatever Retry-After
// asks for, so a receiver cannot push a message past the ~3-day window.
const MaxDelay = 24 * time.Hour

// Schedule is the wait before each retry after a failed attempt, as
// documented in docs/API.md: the first attempt is immediate, then these nine
// retries span about three days before we give up.
var Schedule = []time.Duration{
	5 * time.Second,
	5 * time.Minute,
	30 * time.Minute,
	2 * time.Hour,
	5 * time.Hour,
	10 * time.Hour,
	10 * time.Hour,
	14 * time.Hour,
	24 * time.Hour,
}

// NextDelay returns how long to wait before attempt n+1, where attempt n (1
// for the first delivery) has just failed, and false once the schedule is
// exhausted. The delay is the larger of the scheduled value and the
// receiver's Retry-After, capped at MaxDelay, so a busy receiver is honoured
// but cannot stall delivery indefinitely. n below 1 is treated as 1.
func NextDelay(attempt int, retryAfter time.Duration) (time.Duration, bool) {
	attempt = max(attempt, 1)
	if attempt > len(Schedule) {
		return 0, false
	}
	return min(max(Schedule[attempt-1], retryAfter), MaxDelay), true
}
