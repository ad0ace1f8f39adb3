package webhook

import (
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	want := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
		5 * time.Hour, 10 * time.Hour, 10 * time.Hour, 14 * time.Hour, 24 * time.Hour}
	if len(Schedule) != len(want) {
		t.Fatalf("Schedule has %d entries, want %d", len(Schedule), len(want))
	}
	for i := range want {
		if Schedule[i] != want[i] {
			t.Errorf("Schedule[%d] = %v, want %v", i, Schedule[i], want[i])
		}
	}
}

func TestNextDelay(t *testing.T) {
	tests := []struct {
		name       string
		attempt    int
		retryAfter time.Duration
		want       time.Duration
		wantOK     bool
	}{
		{"after first attempt", 1, 0, 5 * time.Second, true},
		{"after second attempt", 2, 0, 5 * time.Minute, true},
		{"after third attempt", 3, 0, 30 * time.Minute, true},
		{"after eighth attempt", 8, 0, 14 * time.Hour, true},
		{"after ninth attempt", 9, 0, 24 * time.Hour, true},
		{"exhausted after tenth", 10, 0, 0, false},
		{"exhausted even with Retry-After", 11, time.Hour, 0, false},
		{"Retry-After longer wins", 1, 2 * time.Minute, 2 * time.Minute, true},
		{"Retry-After shorter ignored", 2, 10 * time.Second, 5 * time.Minute, true},
		{"Retry-After capped at 24h", 3, 72 * time.Hour, 24 * time.Hour, true},
		{"negative Retry-After ignored", 1, -time.Hour, 5 * time.Second, true},
		{"attempt 0 treated as 1", 0, 0, 5 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := NextDelay(tt.attempt, tt.retryAfter)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("NextDelay(%d, %v) = %v, %v; want %v, %v", tt.attempt, tt.retryAfter, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
