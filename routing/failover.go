package routing

import (
	"context"
	"errors"
	"time"

	sb "github.com/switchboardhq/switchboard"
)

// FailoverStart is a checked failover plan ready to store.
type FailoverStart struct {
	Plan       *sb.FailoverPlan
	Deliveries []string
}

// PlanFailover checks a failover send before it is accepted: it resolves
// the customer (an address resolves on the first step's channel) and
// refuses the send when no step could reach anyone — every identity opted
// out, or no identity or sender on any step's channel. Steps that cannot be
// sent now are not dropped: each is checked again when its turn comes.
func (s *Service) PlanFailover(ctx context.Context, m *sb.Message) (*FailoverStart, error) {
	st, err := s.Settings(ctx, m.AccountID)
	if err != nil {
		return nil, err
	}
	plan := m.Failover
	out := &FailoverStart{Plan: plan}
	if m.CustomerID == "" {
		first := plan.Steps[0]
		res, err := s.store.ResolveIdentity(ctx, m.AccountID, first.Channel, first.To)
		if err != nil {
			return nil, err
		}
		m.CustomerID, out.Deliveries = res.CustomerID, res.Deliveries
	}
	c, err := s.store.GetCustomer(ctx, m.AccountID, m.CustomerID)
	if err != nil {
		return nil, err
	}
	m.CustomerID = c.ID
	var reasons []string
	reachable := -1
	for i := range plan.Steps {
		step := &plan.Steps[i]
		reason := s.stepReason(c, st, step)
		if reason == "" && reachable < 0 {
			reachable = i
		}
		reasons = append(reasons, reason)
	}
	if reachable < 0 {
		allOptedOut := true
		for _, r := range reasons {
			allOptedOut = allOptedOut && r == "opted_out"
		}
		if allOptedOut {
			return nil, sb.Errorf(sb.EOPTEDOUT, "every failover step goes to an identity that opted out of messages")
		}
		return nil, sb.Errorf(sb.ENOROUTE, "no failover step can reach customer %s (%v)", c.ID, reasons)
	}
	first := plan.Steps[reachable]
	m.Channel, m.To, m.From = first.Channel, first.To, first.From
	if m.To == "" {
		if id, _ := usable(c, first.Channel, func(id *sb.Identity) string { return "x" }); id != nil {
			m.To = id.Address
		}
	}
	return out, nil
}

// stepReason says why step cannot be sent to customer c now ("" when it
// can): opted_out, no_identity or no_sender.
func (s *Service) stepReason(c *sb.Customer, st sb.AccountSettings, step *sb.FailoverStep) string {
	sender := func(id *sb.Identity) string {
		switch {
		case step.From != "":
			return step.From
		case id != nil && id.LastInboundTo != "":
			return id.LastInboundTo
		}
		return st.Senders[step.Channel]
	}
	if step.To != "" {
		// An address: only an opt-out of that very identity stops it.
		for _, id := range c.Identities {
			if id.Channel == step.Channel && id.Address == step.To {
				if id.OptedOut {
					return "opted_out"
				}
				if sender(&id) == "" {
					return "no_sender"
				}
				return ""
			}
		}
		if sender(nil) == "" {
			return "no_sender"
		}
		return ""
	}
	_, skip := usable(c, step.Channel, sender)
	return skip
}

// StartStep routes failover step i of parent: the step's own message, to
// the same customer. A step that cannot be sent returns a skip reason
// instead (opted_out, no_identity, no_sender).
func (s *Service) StartStep(ctx context.Context, parent *sb.Message, i int) (*Outbound, string, error) {
	step := parent.Failover.Steps[i]
	r := OutboundRequest{AccountID: parent.AccountID, Channel: step.Channel, From: step.From, Category: parent.Category,
		Mode: "failover", Reason: "step"}
	if step.To != "" {
		r.To = step.To
	} else {
		r.CustomerID = parent.CustomerID
	}
	out, err := s.Outbound(ctx, r)
	if err == nil {
		if out.Decision == nil {
			out.Decision = &sb.RoutingDecision{Mode: "failover", Channel: step.Channel, Reason: "step"}
		}
		return out, "", nil
	}
	var e *sb.Error
	if errors.As(err, &e) {
		switch e.Code {
		case sb.EOPTEDOUT:
			return nil, "opted_out", nil
		case sb.ENOROUTE:
			return nil, "no_identity", nil
		case sb.EINVALID:
			return nil, "no_sender", nil
		}
	}
	return nil, "", err
}

// FailoverDecision is what to do next with a failover parent.
type FailoverDecision struct {
	// Start is the index of the step to send now, or -1.
	Start int
	// Mirror is the status to move the parent to ("" for none), with the
	// error of a final failure.
	Mirror       sb.Status
	ErrorCode    string
	ErrorMessage string
	// CheckAt is when to look again if nothing happens before (zero: only
	// when the step's message changes).
	CheckAt time.Time
}

// reached reports whether a step's message in status has got as far as
// unless: read counts as delivered and sent, delivered as sent.
func reached(status, unless sb.Status) bool {
	if status == sb.StatusFailed || status == sb.StatusUndelivered {
		return false
	}
	return status.Rank() >= unless.Rank()
}

// Advance decides a failover parent's next move from its plan and the
// current step's message (nil before any step started), updating the plan
// in place. A step wins when it reaches the next step's Unless status;
// failing outright, or not getting there within the next step's After,
// moves on to the next step; the last step wins once it is sent, and when
// it fails the parent fails with its error.
func Advance(plan *sb.FailoverPlan, current *sb.Message, now time.Time) FailoverDecision {
	d := FailoverDecision{Start: -1}
	if plan.Done {
		if plan.Winner != nil && current != nil {
			d.Mirror = current.Status // read after delivered, and so on
		}
		return d
	}
	k := plan.Current
	step := &plan.Steps[k]
	if current == nil || step.MessageID == "" {
		d.Start = k
		return d
	}
	status := current.Status
	failed := status == sb.StatusFailed || status == sb.StatusUndelivered
	last := k == len(plan.Steps)-1
	if last {
		switch {
		case failed:
			step.State, step.Reason = sb.StepFailed, current.ErrorCode
			plan.Done = true
			d.Mirror, d.ErrorCode, d.ErrorMessage = sb.StatusFailed, current.ErrorCode, current.ErrorMessage
			if d.ErrorCode == "" {
				d.ErrorCode = "failover_exhausted"
			}
			if d.ErrorMessage == "" {
				d.ErrorMessage = "every failover step failed"
			}
		case reached(status, sb.StatusSent):
			win(plan, k)
			d.Mirror = status
		default:
			d.Mirror = inFlight(status)
		}
		return d
	}
	next := plan.Steps[k+1]
	switch {
	case reached(status, next.Unless):
		win(plan, k)
		d.Mirror = status
	case failed:
		step.State, step.Reason = sb.StepFailed, current.ErrorCode
		d.Start = k + 1
	case step.StartedAt != nil && !now.Before(step.StartedAt.Add(next.After)):
		step.State, step.Reason = sb.StepTimedOut, "not "+string(next.Unless)+" within "+next.After.String()
		d.Start = k + 1
	default:
		d.Mirror = inFlight(status)
		if step.StartedAt != nil {
			d.CheckAt = step.StartedAt.Add(next.After)
		}
	}
	return d
}

// inFlight is the status a parent shows while a step is on its way: the
// step's, up to sent.
func inFlight(s sb.Status) sb.Status {
	if s.Rank() > sb.StatusSent.Rank() || s.Rank() < sb.StatusQueued.Rank() {
		return ""
	}
	return s
}

func win(plan *sb.FailoverPlan, k int) {
	plan.Steps[k].State = sb.StepWon
	w := k
	plan.Winner, plan.Done = &w, true
	for i := k + 1; i < len(plan.Steps); i++ {
		plan.Steps[i].State = sb.StepCancelled
	}
}

// Skip marks step i as skipped for reason and reports whether a later step
// remains; when none does the plan is done and the parent fails.
func Skip(plan *sb.FailoverPlan, i int, reason string) bool {
	plan.Steps[i].State, plan.Steps[i].Reason = sb.StepSkipped, reason
	if i+1 < len(plan.Steps) {
		plan.Current = i + 1
		return true
	}
	plan.Done = true
	return false
}
