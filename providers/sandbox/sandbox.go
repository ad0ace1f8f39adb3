// Package sandbox is the built-in carrier every channel uses until a real
// provider is connected: it accepts sends, records what it received, and
// emits delivery receipts after a short delay, so the whole pipeline works
// offline. Magic numbers and per-address rules script its answers.
package sandbox

import (
	"context"
	"time"

	sb "github.com/switchboardhq/switchboard"
)

// Name is how messages name this provider.
const Name = "sandbox"

// Magic destination numbers, documented in the README.
const (
	NumberInvalid     = "+15005550001" // refused permanently: invalid number
	NumberTransient   = "+15005550002" // transient error twice, then delivered
	NumberSilent      = "+15005550006" // accepted, never receipted: stays sent
	NumberUndelivered = "+15005550009" // accepted, then undelivered
)

// transientFailures is how often NumberTransient (and a transient rule)
// fails before it succeeds.
const transientFailures = 2

// Store is what the sandbox remembers.
type Store interface {
	// SandboxLookup returns the destination's outcome rule (nil if none)
	// and what the carrier already received for the message.
	SandboxLookup(ctx context.Context, accountID string, ch sb.Channel, to, messageID string) (*sb.SandboxRule, []sb.SandboxSubmission, error)
	RecordSubmission(ctx context.Context, s *sb.SandboxSubmission) error
}

// Scheduler delivers a receipt after a delay.
type Scheduler interface {
	ScheduleReceipt(ctx context.Context, r sb.Receipt, delay time.Duration) error
}

// Provider is the sandbox carrier.
type Provider struct {
	store    Store
	receipts Scheduler
	delay    time.Duration
	latency  time.Duration
}

// New returns a sandbox carrier that receipts after delay and takes latency
// to answer each send, as a real carrier's API would (for load and crash
// tests; zero by default).
func New(store Store, receipts Scheduler, delay, latency time.Duration) *Provider {
	return &Provider{store: store, receipts: receipts, delay: delay, latency: latency}
}

// outcomeFor decides what happens to a send: a rule for the destination
// wins over the magic numbers.
func (p *Provider) outcomeFor(m *sb.Message, rule *sb.SandboxRule) (outcome string, delay time.Duration) {
	delay = p.delay
	if rule != nil {
		if rule.DelayMS != nil {
			delay = time.Duration(*rule.DelayMS) * time.Millisecond
		}
		return rule.Outcome, delay
	}
	switch m.To {
	case NumberInvalid:
		return sb.OutcomeFailed, delay
	case NumberTransient:
		return sb.OutcomeTransient, delay
	case NumberSilent:
		return sb.OutcomeSilent, delay
	case NumberUndelivered:
		return sb.OutcomeUndelivered, delay
	}
	return sb.OutcomeDelivered, delay
}

// Send accepts or refuses m as the rules say. m.ID is the idempotency key: a
// message already accepted is answered with its original id and not
// recorded again, as a carrier honouring idempotency keys would.
func (p *Provider) Send(ctx context.Context, m *sb.Message) (sb.SendResult, error) {
	if p.latency > 0 {
		select {
		case <-time.After(p.latency):
		case <-ctx.Done():
			return sb.SendResult{}, ctx.Err()
		}
	}
	rule, prior, err := p.store.SandboxLookup(ctx, m.AccountID, m.Channel, m.To, m.ID)
	if err != nil {
		return sb.SendResult{}, err
	}
	transients := 0
	for _, s := range prior {
		if s.Result == "accepted" {
			return sb.SendResult{ProviderMessageID: s.ProviderMessageID}, nil
		}
		if s.Result == "transient" {
			transients++
		}
	}
	outcome, delay := p.outcomeFor(m, rule)
	sub := &sb.SandboxSubmission{
		AccountID: m.AccountID, MessageID: m.ID, Channel: m.Channel, From: m.From, To: m.To,
		Text: m.Text, Attempt: len(prior) + 1, Result: "accepted",
	}
	var refusal *sb.ProviderError
	switch {
	case outcome == sb.OutcomeFailed:
		sub.Result = "failed"
		refusal = &sb.ProviderError{Code: "21211", Message: "invalid 'To' number", Permanent: true}
	case outcome == sb.OutcomeTransient && transients < transientFailures:
		sub.Result = "transient"
		refusal = &sb.ProviderError{Code: "30001", Message: "carrier queue overflow, try again"}
	default:
		sub.ProviderMessageID = "SB" + m.ID
	}
	if err := p.store.RecordSubmission(ctx, sub); err != nil {
		return sb.SendResult{}, err
	}
	if refusal != nil {
		return sb.SendResult{}, refusal
	}
	r := sb.Receipt{AccountID: m.AccountID, MessageID: m.ID, Provider: Name, ProviderMessageID: sub.ProviderMessageID}
	switch outcome {
	case sb.OutcomeSilent:
		return sb.SendResult{ProviderMessageID: sub.ProviderMessageID}, nil
	case sb.OutcomeUndelivered:
		r.Status, r.ErrorCode, r.ErrorMessage = sb.StatusUndelivered, "30003", "unreachable destination handset"
	default:
		r.Status = sb.StatusDelivered
	}
	if delay <= 0 {
		// No delay: the outcome goes back with the answer, saving a task.
		return sb.SendResult{ProviderMessageID: sub.ProviderMessageID, Receipt: &r}, nil
	}
	if err := p.receipts.ScheduleReceipt(ctx, r, delay); err != nil {
		return sb.SendResult{}, err
	}
	return sb.SendResult{ProviderMessageID: sub.ProviderMessageID}, nil
}
