package routing

import (
	"strings"
	"testing"
	"time"

	sb "github.com/switchboardhq/switchboard"
)

func TestQuietUntil(t *testing.T) {
	moscow, _ := time.LoadLocation("Europe/Moscow")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	at := func(loc *time.Location, h, m int) time.Time { return time.Date(2026, 11, 23, h, m, 0, 0, loc) }
	tests := []struct {
		name string
		q    sb.QuietHours
		tz   string
		now  time.Time
		want time.Time
	}{
		{"outside a night window", sb.QuietHours{Start: "21:00", End: "09:00"}, "", at(time.UTC, 12, 0), time.Time{}},
		{"late evening defers to next morning", sb.QuietHours{Start: "21:00", End: "09:00"}, "", at(time.UTC, 22, 30), at(time.UTC, 9, 0).AddDate(0, 0, 1)},
		{"early morning defers to this morning", sb.QuietHours{Start: "21:00", End: "09:00"}, "", at(time.UTC, 3, 0), at(time.UTC, 9, 0)},
		{"end is exclusive", sb.QuietHours{Start: "21:00", End: "09:00"}, "", at(time.UTC, 9, 0), time.Time{}},
		{"start is inclusive", sb.QuietHours{Start: "21:00", End: "09:00"}, "", at(time.UTC, 21, 0), at(time.UTC, 9, 0).AddDate(0, 0, 1)},
		{"daytime window", sb.QuietHours{Start: "12:00", End: "14:00"}, "", at(time.UTC, 13, 0), at(time.UTC, 14, 0)},
		{"customer's timezone wins", sb.QuietHours{Start: "21:00", End: "09:00", Timezone: "UTC"}, "Europe/Moscow",
			at(time.UTC, 19, 0) /* 22:00 in Moscow */, at(moscow, 9, 0).AddDate(0, 0, 1)},
		{"account timezone for customers without one", sb.QuietHours{Start: "21:00", End: "09:00", Timezone: "Europe/Moscow"}, "",
			at(time.UTC, 19, 0), at(moscow, 9, 0).AddDate(0, 0, 1)},
		{"unknown customer timezone falls back", sb.QuietHours{Start: "21:00", End: "09:00"}, "Mars/Olympus", at(time.UTC, 23, 0), at(time.UTC, 9, 0).AddDate(0, 0, 1)},
		{"end in the hour spring-forward skips: the window ends at the jump", sb.QuietHours{Start: "22:00", End: "02:30"}, "Europe/Berlin",
			time.Date(2024, 3, 30, 23, 0, 0, 0, berlin), time.Date(2024, 3, 31, 3, 0, 0, 0, berlin)},
		{"fall-back night: the first 02:30", sb.QuietHours{Start: "22:00", End: "02:30"}, "Europe/Berlin",
			time.Date(2024, 10, 26, 23, 0, 0, 0, berlin), time.Date(2024, 10, 27, 0, 30, 0, 0, time.UTC)},
		{"malformed window never defers", sb.QuietHours{Start: "9pm", End: "09:00"}, "", at(time.UTC, 23, 0), time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := QuietUntil(tt.q, tt.tz, tt.now)
			if !got.Equal(tt.want) {
				t.Errorf("QuietUntil = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMatchKeyword(t *testing.T) {
	st := sb.AccountSettings{}.WithDefaults()
	tests := []struct {
		text, action string
	}{
		{"STOP", KeywordOptOut}, {" stop ", KeywordOptOut}, {"Stop.", KeywordOptOut}, {"unsubscribe", KeywordOptOut},
		{"стоп", KeywordOptOut}, {"СТОП", KeywordOptOut}, {"Отписаться", KeywordOptOut},
		{"start", KeywordOptIn}, {"START", KeywordOptIn},
		{"please stop", KeywordNone}, {"stopped", KeywordNone}, {"", KeywordNone},
	}
	for _, tt := range tests {
		if got, _ := MatchKeyword(st, tt.text); got != tt.action {
			t.Errorf("MatchKeyword(%q) = %q, want %q", tt.text, got, tt.action)
		}
	}
	custom := sb.AccountSettings{OptOutKeywords: []string{"HALT"}}.WithDefaults()
	if got, _ := MatchKeyword(custom, "stop"); got != KeywordNone {
		t.Errorf("a configured list replaces the defaults; STOP matched %q", got)
	}
	if got, _ := MatchKeyword(custom, "halt"); got != KeywordOptOut {
		t.Errorf("HALT = %q, want opt-out", got)
	}
}

func TestCandidatesAndUsable(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	c := &sb.Customer{ID: "c", PreferredChannel: sb.ChannelWhatsApp, Identities: []sb.Identity{
		{Channel: sb.ChannelSMS, Address: "+79990000001", LastInboundAt: t0.Add(time.Hour), LastInboundTo: "+15005550000"},
		{Channel: sb.ChannelTelegram, Address: "42", LastInboundAt: t0.Add(2 * time.Hour), LastInboundTo: "bot"},
		{Channel: sb.ChannelWhatsApp, Address: "+79990000001", OptedOut: true},
		{Channel: sb.ChannelViber, Address: "v1", LastSeenAt: t0.Add(3 * time.Hour)},
	}}
	var got []sb.Channel
	for _, cand := range Candidates(c) {
		got = append(got, cand.Channel)
	}
	want := []sb.Channel{sb.ChannelWhatsApp, sb.ChannelTelegram, sb.ChannelSMS, sb.ChannelViber}
	if len(got) != len(want) {
		t.Fatalf("candidates %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("candidates %v, want %v", got, want)
		}
	}
	sender := func(id *sb.Identity) string { return id.LastInboundTo }
	for _, tt := range []struct {
		ch   sb.Channel
		skip string
	}{{sb.ChannelWhatsApp, "opted_out"}, {sb.ChannelViber, "no_sender"}, {sb.ChannelVoice, "no_identity"}, {sb.ChannelTelegram, ""}} {
		id, skip := usable(c, tt.ch, sender)
		if skip != tt.skip || (tt.skip == "") != (id != nil) {
			t.Errorf("usable(%s) = %v, %q; want skip %q", tt.ch, id, skip, tt.skip)
		}
	}
}

func TestAdvance(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	plan := func() *sb.FailoverPlan {
		return &sb.FailoverPlan{Version: 1, Steps: []sb.FailoverStep{
			{Channel: sb.ChannelWhatsApp, State: sb.StepSending, MessageID: "m1", StartedAt: &t0},
			{Channel: sb.ChannelSMS, After: 30 * time.Second, Unless: sb.StatusDelivered, State: sb.StepPending},
		}}
	}
	one := func(s sb.Status) map[int]*sb.Message {
		return map[int]*sb.Message{0: {ID: "m1", Status: s, ErrorCode: "30003"}}
	}
	tests := []struct {
		name       string
		status     sb.Status
		now        time.Time
		start      int
		mirror     sb.Status
		state      string
		winner     int // -1 none
		checkAt    time.Time
		cancel     []string
		cancelNext bool
	}{
		{"sent, waiting for delivery", sb.StatusSent, t0.Add(time.Second), -1, sb.StatusSent, sb.StepSending, -1, t0.Add(30 * time.Second), nil, false},
		{"delivered wins and cancels the rest", sb.StatusDelivered, t0.Add(time.Second), -1, sb.StatusDelivered, sb.StepWon, 0, time.Time{}, nil, true},
		{"read counts as delivered", sb.StatusRead, t0.Add(time.Second), -1, sb.StatusRead, sb.StepWon, 0, time.Time{}, nil, true},
		{"undelivered moves on at once", sb.StatusUndelivered, t0.Add(time.Second), 1, "", sb.StepFailed, -1, time.Time{}, nil, false},
		{"silent past the timer moves on", sb.StatusSent, t0.Add(30 * time.Second), 1, "", sb.StepTimedOut, -1, time.Time{}, nil, false},
		{"still queued past the timer: cancelled, next step goes", sb.StatusQueued, t0.Add(30 * time.Second), 1, "", sb.StepCancelled, -1, time.Time{}, []string{"m1"}, false},
		{"caught mid-send past the timer: look again in a moment", sb.StatusSending, t0.Add(30 * time.Second), -1, sb.StatusSending, sb.StepSending, -1, t0.Add(31 * time.Second), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := plan()
			d := Advance(p, one(tt.status), tt.now)
			if d.Start != tt.start || d.Mirror != tt.mirror || !d.CheckAt.Equal(tt.checkAt) || p.Steps[0].State != tt.state ||
				strings.Join(d.Cancel, ",") != strings.Join(tt.cancel, ",") {
				t.Errorf("Advance = %+v, step state %s; want start %d mirror %q check %v state %s cancel %v",
					d, p.Steps[0].State, tt.start, tt.mirror, tt.checkAt, tt.state, tt.cancel)
			}
			if (p.Winner == nil) != (tt.winner < 0) || (p.Winner != nil && *p.Winner != tt.winner) {
				t.Errorf("winner %v, want %d", p.Winner, tt.winner)
			}
			if tt.cancelNext && p.Steps[1].State != sb.StepCancelled {
				t.Errorf("next step %s, want cancelled", p.Steps[1].State)
			}
		})
	}
	second := func(p *sb.FailoverPlan) *sb.FailoverPlan {
		p.Current, p.Steps[0].State, p.Steps[1].MessageID, p.Steps[1].StartedAt, p.Steps[1].State = 1, sb.StepTimedOut, "m2", &t0, sb.StepSending
		return p
	}
	t.Run("last step fails: parent fails with its error", func(t *testing.T) {
		p := second(plan())
		d := Advance(p, map[int]*sb.Message{0: {ID: "m1", Status: sb.StatusFailed}, 1: {ID: "m2", Status: sb.StatusFailed, ErrorCode: "21211"}}, t0)
		if !p.Done || p.Winner != nil || d.Mirror != sb.StatusFailed || d.ErrorCode != "21211" {
			t.Errorf("got %+v done=%v winner=%v", d, p.Done, p.Winner)
		}
	})
	t.Run("last step fails while an earlier one may still arrive: wait", func(t *testing.T) {
		p := second(plan())
		d := Advance(p, map[int]*sb.Message{0: {ID: "m1", Status: sb.StatusSent}, 1: {ID: "m2", Status: sb.StatusFailed}}, t0)
		if p.Done || d.Start != -1 || d.Mirror != sb.StatusSent {
			t.Errorf("got %+v done=%v", d, p.Done)
		}
	})
	t.Run("a late receipt for a timed-out step wins and cancels an unsent later step", func(t *testing.T) {
		p := second(plan())
		d := Advance(p, map[int]*sb.Message{0: {ID: "m1", Status: sb.StatusDelivered}, 1: {ID: "m2", Status: sb.StatusAccepted}}, t0)
		if p.Winner == nil || *p.Winner != 0 || strings.Join(d.Cancel, ",") != "m2" || p.Steps[1].State != sb.StepCancelled {
			t.Errorf("got %+v winner %v steps %+v", d, p.Winner, p.Steps)
		}
	})
	t.Run("last step wins once sent", func(t *testing.T) {
		p := second(plan())
		Advance(p, map[int]*sb.Message{0: {ID: "m1", Status: sb.StatusSent}, 1: {ID: "m2", Status: sb.StatusSent}}, t0)
		if p.Winner == nil || *p.Winner != 1 || p.Steps[1].State != sb.StepWon {
			t.Errorf("winner %v state %s", p.Winner, p.Steps[1].State)
		}
	})
	t.Run("after a win the parent follows the winner, error included", func(t *testing.T) {
		p := plan()
		w := 0
		p.Winner, p.Done = &w, true
		d := Advance(p, map[int]*sb.Message{0: {ID: "m1", Status: sb.StatusRead}}, t0)
		if d.Mirror != sb.StatusRead || d.Start != -1 {
			t.Errorf("got %+v", d)
		}
	})
	t.Run("nothing started yet starts the current step", func(t *testing.T) {
		p := plan()
		p.Steps[0].MessageID = ""
		if d := Advance(p, nil, t0); d.Start != 0 {
			t.Errorf("start %d, want 0", d.Start)
		}
	})
	t.Run("the last step skipped: fail unless an earlier step is out there", func(t *testing.T) {
		p := plan()
		p.Steps[0].State = sb.StepTimedOut
		if !Skip(p, 0, "opted_out") || p.Current != 1 {
			t.Fatalf("skip of step 0 should move on to 1")
		}
		p.Steps[0].State = sb.StepTimedOut
		if Skip(p, 1, "no_sender") {
			t.Fatalf("skip of the last step reports more steps")
		}
		if d := Advance(p, map[int]*sb.Message{0: {ID: "m1", Status: sb.StatusSent}}, t0); p.Done || d.Mirror != sb.StatusSent {
			t.Errorf("with step 0 sent: %+v done=%v", d, p.Done)
		}
		if d := Advance(p, map[int]*sb.Message{0: {ID: "m1", Status: sb.StatusUndelivered}}, t0); !p.Done || d.Mirror != sb.StatusFailed || d.ErrorCode != "failover_exhausted" {
			t.Errorf("with step 0 undelivered: %+v done=%v", d, p.Done)
		}
	})
}
