package sdk

import (
	"context"
	"errors"
	"net/url"
	"time"
)

// SandboxOutcome is what the sandbox provider does with a matching send.
type SandboxOutcome string

// Sandbox outcomes.
const (
	OutcomeDelivered   SandboxOutcome = "delivered"
	OutcomeUndelivered SandboxOutcome = "undelivered"
	OutcomeFailed      SandboxOutcome = "failed"
	OutcomeTransient   SandboxOutcome = "transient"
	OutcomeSilent      SandboxOutcome = "silent"
)

// SandboxRule scripts the sandbox provider. Nil fields match anything or
// do not apply.
type SandboxRule struct {
	ID            string          `json:"id"`
	Channel       *Channel        `json:"channel"`
	To            *string         `json:"to"`
	From          *string         `json:"from"`
	Outcome       *SandboxOutcome `json:"outcome"`
	DelayMS       *int            `json:"delay_ms"`
	RatePerSecond *float64        `json:"rate_per_second"`
	CreatedAt     time.Time       `json:"created_at"`
}

// SandboxRuleParams is the body of Sandbox.SetRule, in one of two shapes:
// an outcome rule {Channel?, To, Outcome, DelayMS?} that decides what
// happens to sends to To, or a rate rule {Channel?, From, RatePerSecond}
// that throttles sends from From. An empty Channel matches every channel.
type SandboxRuleParams struct {
	Channel Channel        `json:"channel,omitempty"`
	To      string         `json:"to,omitempty"`
	Outcome SandboxOutcome `json:"outcome,omitempty"`
	// DelayMS delays the outcome, in milliseconds.
	DelayMS       int     `json:"delay_ms,omitempty"`
	From          string  `json:"from,omitempty"`
	RatePerSecond float64 `json:"rate_per_second,omitempty"`
}

// SandboxInboundParams is the body of Sandbox.Inbound.
type SandboxInboundParams struct {
	Channel Channel `json:"channel"`
	From    string  `json:"from"`
	To      string  `json:"to"`
	Text    string  `json:"text"`
}

// SandboxSubmission is one send attempt as the sandbox provider saw it.
type SandboxSubmission struct {
	ID        string  `json:"id"`
	MessageID string  `json:"message_id"`
	Channel   Channel `json:"channel"`
	From      string  `json:"from"`
	To        string  `json:"to"`
	Text      string  `json:"text"`
	Attempt   int     `json:"attempt"`
	// Result is "accepted", "failed" or "transient".
	Result            string    `json:"result"`
	ProviderMessageID *string   `json:"provider_message_id"`
	CreatedAt         time.Time `json:"created_at"`
}

// SandboxService drives the sandbox provider in tests. Get it from
// Client.Sandbox.
type SandboxService struct{ c *Client }

// SetRule puts a sandbox rule in place and returns it.
func (s *SandboxService) SetRule(ctx context.Context, params *SandboxRuleParams) (*SandboxRule, error) {
	if params == nil {
		return nil, errors.New("switchboard: set sandbox rule: params are required")
	}
	var r SandboxRule
	if err := s.c.do(ctx, request{method: "PUT", path: "/v1/sandbox/rules", body: params}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Rules returns every sandbox rule of the account.
func (s *SandboxService) Rules(ctx context.Context) ([]SandboxRule, error) {
	var out dataEnvelope[SandboxRule]
	if err := s.c.do(ctx, request{method: "GET", path: "/v1/sandbox/rules"}, &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}

// DeleteRule removes a sandbox rule.
func (s *SandboxService) DeleteRule(ctx context.Context, id string) error {
	p, err := pathID("sandbox rule", id)
	if err != nil {
		return err
	}
	return s.c.do(ctx, request{method: "DELETE", path: "/v1/sandbox/rules/" + p}, nil)
}

// Inbound simulates a message arriving from a customer and returns it
// (direction inbound, status received); subscribers get message.received.
//
// It is not retried after an outcome-unknown failure, which could inject
// the message twice.
func (s *SandboxService) Inbound(ctx context.Context, params *SandboxInboundParams) (*Message, error) {
	if params == nil {
		return nil, errors.New("switchboard: sandbox inbound: params are required")
	}
	var m Message
	if err := s.c.do(ctx, request{method: "POST", path: "/v1/sandbox/inbound", body: params}, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Submissions returns what the sandbox provider received for a message,
// oldest first: one entry per send attempt.
func (s *SandboxService) Submissions(ctx context.Context, messageID string) ([]SandboxSubmission, error) {
	if messageID == "" {
		return nil, errors.New("switchboard: message id is required")
	}
	q := url.Values{"message_id": {messageID}}
	var out dataEnvelope[SandboxSubmission]
	if err := s.c.do(ctx, request{method: "GET", path: "/v1/sandbox/submissions", query: q}, &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}
