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
	// time.Date normalises a wall time skipped by a DST change forward.
	return time.Date(day.Year(), day.Month(), day.Day(), end/60, end%60, 0, 0, loc)
}
