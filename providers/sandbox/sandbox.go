// Package sandbox is the built-in carrier every channel uses until a real
// provider is connected: it accepts sends, records what it received, and
// reports a delivery receipt to arrive after a short delay, so the whole
// pipeline works offline. Magic numbers and per-address rules script its answers.
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
	// SandboxLookupMany returns, per message id, the destination's outcome
	// rule (absent if none) and what the carrier already received.
	SandboxLookupMany(ctx context.Context, ms []*sb.Message) (map[string]*sb.SandboxRule, map[string][]sb.SandboxSubmission, error)
	RecordSubmissions(ctx context.Context, subs []*sb.SandboxSubmission) error
}

// Provider is the sandbox carrier.
type Provider struct {
	store   Store
	delay   time.Duration
	latency time.Duration
}

// New returns a sandbox carrier that receipts after delay and takes latency
// to answer each send, as a real carrier's API would (for load and crash
// tests; zero by default).
func New(store Store, delay, latency time.Duration) *Provider {
	return &Provider{store: store, delay: delay, latency: latency}
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

// Send accepts or refuses m as the rules say.
func (p *Provider) Send(ctx context.Context, m *sb.Message) (sb.SendResult, error) {
	out := p.SendBatch(ctx, []*sb.Message{m})
	return out[0].Result, out[0].Err
}

// SendBatch answers a batch of sends with two queries and one insert, as a
// carrier's bulk API would. Each message's id is its idempotency key: one
// already accepted is answered with its original id and not recorded again.
func (p *Provider) SendBatch(ctx context.Context, ms []*sb.Message) []sb.SendOutcome {
	out := make([]sb.SendOutcome, len(ms))
	fail := func(err error) []sb.SendOutcome {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	if p.latency > 0 {
		select {
		case <-time.After(p.latency):
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
	rules, prior, err := p.store.SandboxLookupMany(ctx, ms)
	if err != nil {
		return fail(err)
	}
	var subs []*sb.SandboxSubmission
	for i, m := range ms {
		transients, replayed := 0, false
		for _, s := range prior[m.ID] {
			if s.Result == "accepted" {
				out[i].Result.ProviderMessageID, replayed = s.ProviderMessageID, true
			}
			if s.Result == "transient" {
				transients++
			}
		}
		outcome, delay := p.outcomeFor(m, rules[m.ID])
		sub := &sb.SandboxSubmission{
			AccountID: m.AccountID, MessageID: m.ID, Channel: m.Channel, From: m.From, To: m.To,
			Text: m.Text, Attempt: len(prior[m.ID]) + 1, Result: "accepted",
		}
		switch {
		case replayed:
			// Seen before: nothing is recorded or sent again, but the
			// outcome is reported again, as a carrier answering a replayed
			// request would.
			sub.ProviderMessageID = out[i].Result.ProviderMessageID
			outcome = acceptedOutcome(outcome)
		default:
			subs = append(subs, sub)
		}
		switch {
		case outcome == sb.OutcomeFailed:
			sub.Result = "failed"
			out[i].Err = &sb.ProviderError{Code: "21211", Message: "invalid 'To' number", Permanent: true}
			continue
		case outcome == sb.OutcomeTransient && transients < transientFailures:
			sub.Result = "transient"
			out[i].Err = &sb.ProviderError{Code: "30001", Message: "carrier queue overflow, try again"}
			continue
		}
		if !replayed {
			sub.ProviderMessageID = "SB" + m.ID
		}
		out[i].Result.ProviderMessageID = sub.ProviderMessageID
		r := sb.Receipt{AccountID: m.AccountID, MessageID: m.ID, Provider: Name, ProviderMessageID: sub.ProviderMessageID}
		switch outcome {
		case sb.OutcomeSilent:
			continue
		case sb.OutcomeUndelivered:
			r.Status, r.ErrorCode, r.ErrorMessage = sb.StatusUndelivered, "30003", "unreachable destination handset"
		default:
			r.Status = sb.StatusDelivered
		}
		// The receipt goes back with the answer; the worker applies it after
		// recording "sent" (after delay), so it cannot overtake "sent".
		out[i].Result.Receipt, out[i].Result.ReceiptDelay = &r, delay
	}
	if err := p.store.RecordSubmissions(ctx, subs); err != nil {
		return fail(err)
	}
	return out
}

// acceptedOutcome is what an accepted submission turned into: a replay of
// one that was accepted cannot fail or be transient any more.
func acceptedOutcome(o string) string {
	if o == sb.OutcomeFailed || o == sb.OutcomeTransient {
		return sb.OutcomeDelivered
	}
	return o
}
