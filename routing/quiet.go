package routing

import (
	"fmt"
	"time"

	sb "github.com/switchboardhq/switchboard"
)

// ParseClock reads "HH:MM" into minutes after midnight.
func ParseClock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a HH:MM time", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// Location loads an IANA timezone name; "" is UTC.
func Location(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	return time.LoadLocation(name)
}

// QuietUntil returns when quiet hours q end if now falls inside them in the
// customer's timezone (tz, else q.Timezone, else UTC), or the zero time
// when sending now is allowed. Start after End wraps past midnight.
func QuietUntil(q sb.QuietHours, tz string, now time.Time) time.Time {
	start, err1 := ParseClock(q.Start)
	end, err2 := ParseClock(q.End)
	if err1 != nil || err2 != nil || start == end {
		return time.Time{}
	}
	loc, err := Location(tz)
	if err != nil || tz == "" {
		if loc, err = Location(q.Timezone); err != nil {
			loc = time.UTC
		}
	}
	local := now.In(loc)
	min := local.Hour()*60 + local.Minute()
	inside := start < end && min >= start && min < end ||
		start > end && (min >= start || min < end)
	if !inside {
		return time.Time{}
	}
	day := local
	if start > end && min >= start {
		day = local.AddDate(0, 0, 1) // the window ends tomorrow morning
	}
	t := time.Date(day.Year(), day.Month(), day.Day(), end/60, end%60, 0, 0, loc)
	if got := t.Hour()*60 + t.Minute(); got != end {
		// The end fell in the hour a clock change skips (02:30 on a
		// spring-forward night): time.Date moved it an hour on, but the
		// window ends when the clock jumps, the first instant at or past
		// the end time.
		_, jump := t.Add(-time.Duration(got-end) * time.Minute).ZoneBounds()
		if !jump.IsZero() && jump.Before(t) {
			return jump
		}
	}
	// On a fall-back night the end time happens twice: end at the first.
	for _, back := range []time.Duration{time.Hour, 30 * time.Minute} {
		if e := t.Add(-back); e.After(now) && e.Hour() == t.Hour() && e.Minute() == t.Minute() {
			return e
		}
	}
	return t
}
