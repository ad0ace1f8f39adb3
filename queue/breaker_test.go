package queue

import (
	"context"
	"errors"
	"testing"
	"time"

	sb "github.com/switchboardhq/switchboard"
)

type scripted struct {
	errs  []error
	calls int
}

func (s *scripted) Send(context.Context, *sb.Message) (sb.SendResult, error) {
	s.calls++
	if len(s.errs) == 0 {
		return sb.SendResult{ProviderMessageID: "ok"}, nil
	}
	err := s.errs[0]
	s.errs = s.errs[1:]
	return sb.SendResult{}, err
}

func TestBreakerOpensAndRecovers(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	b := NewBreakers(3, 30*time.Second)
	b.now = func() time.Time { return now }
	down := errors.New("connection refused")
	flaky := &scripted{errs: []error{down, down, down, down}}
	healthy := &scripted{}
	p, other := b.Wrap("twilio", flaky), b.Wrap("telegram", healthy)
	ctx := context.Background()
	for range 3 {
		if _, err := p.Send(ctx, &sb.Message{}); !errors.Is(err, down) {
			t.Fatalf("send through a closed breaker: %v", err)
		}
	}
	// Open: fails fast, without calling the provider, as a transient error.
	_, err := p.Send(ctx, &sb.Message{})
	var pe *sb.ProviderError
	if !errors.As(err, &pe) || pe.Permanent || pe.Code != "circuit_open" || pe.RetryAfter != 30*time.Second || flaky.calls != 3 {
		t.Fatalf("open breaker: %v (calls %d)", err, flaky.calls)
	}
	// Another provider is not affected.
	if _, err := other.Send(ctx, &sb.Message{}); err != nil {
		t.Fatalf("other provider: %v", err)
	}
	// After the cooldown one probe goes through; it fails and re-opens.
	now = now.Add(31 * time.Second)
	if _, err := p.Send(ctx, &sb.Message{}); !errors.Is(err, down) || flaky.calls != 4 {
		t.Fatalf("probe: %v (calls %d)", err, flaky.calls)
	}
	if _, err := p.Send(ctx, &sb.Message{}); !errors.As(err, &pe) || pe.Code != "circuit_open" {
		t.Fatalf("after a failed probe: %v", err)
	}
	// The next probe succeeds and closes it.
	now = now.Add(31 * time.Second)
	if _, err := p.Send(ctx, &sb.Message{}); err != nil {
		t.Fatalf("successful probe: %v", err)
	}
	if _, err := p.Send(ctx, &sb.Message{}); err != nil || flaky.calls != 6 {
		t.Fatalf("closed again: %v (calls %d)", err, flaky.calls)
	}
	// A permanent refusal means the provider is up: it does not count.
	perm := &scripted{errs: []error{&sb.ProviderError{Permanent: true}, &sb.ProviderError{Permanent: true}, &sb.ProviderError{Permanent: true}}}
	q := b.Wrap("viber", perm)
	for range 4 {
		q.Send(ctx, &sb.Message{})
	}
	if perm.calls != 4 {
		t.Fatalf("permanent refusals opened the breaker (calls %d)", perm.calls)
	}
}

func TestBreakerIgnoresRateLimits(t *testing.T) {
	b := NewBreakers(2, time.Minute)
	limited := &scripted{errs: []error{
		&sb.ProviderError{Code: "429", RetryAfter: time.Second}, &sb.ProviderError{Code: "429", RetryAfter: time.Second},
		&sb.ProviderError{Code: "429", RetryAfter: time.Second}}}
	p := b.Wrap("telegram", limited)
	for range 4 {
		p.Send(context.Background(), &sb.Message{})
	}
	if limited.calls != 4 {
		t.Fatalf("rate limits opened the breaker (calls %d)", limited.calls)
	}
}
