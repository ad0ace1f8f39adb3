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
	if step.To == "" && parent.CustomerID == "" {
		return nil, "no_identity", nil // the customer was deleted meanwhile
	}
	r := OutboundRequest{AccountID: parent.AccountID, Channel: step.Channel, From: step.From, Category: parent.Category,
		Mode: "failover", Reason: "step", Template: IsTemplate(parent.Metadata)}
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
	// Cancel lists step messages not yet handed to a provider that must
	// not go out: a step that timed out before it was sent, and unsent
	// later steps once an earlier one won.
	Cancel []string
	// Mirror is the status to move the parent to ("" for none), with the
	// error of a final failure.
	Mirror       sb.Status
	ErrorCode    string
	ErrorMessage string
	// CheckAt is when to look again if nothing happens before (zero: only
	// when a step's message changes).
	CheckAt time.Time
}

// sendingRecheck is how soon a step caught mid-send is looked at again.
const sendingRecheck = time.Second

// reached reports whether a step's message in status has got as far as
// unless: read counts as delivered and sent, delivered as sent.
func reached(status, unless sb.Status) bool {
	if failedStatus(status) {
		return false
	}
	return status.Rank() >= unless.Rank()
}

func failedStatus(s sb.Status) bool { return s == sb.StatusFailed || s == sb.StatusUndelivered }

// unsent reports whether a step's message has not reached a provider yet,
// so cancelling it keeps it from the customer.
func unsent(s sb.Status) bool { return s == sb.StatusAccepted || s == sb.StatusQueued }

// threshold is the status step i must reach to win: the next step's
// unless, or sent for the last step.
func threshold(plan *sb.FailoverPlan, i int) sb.Status {
	if i+1 < len(plan.Steps) {
		return plan.Steps[i+1].Unless
	}
	return sb.StatusSent
}

// Advance decides a failover parent's next move from its plan and the
// messages of the steps started so far (by step index), updating the plan
// in place.
//
//   - Any started step that reaches its threshold (the next step's unless;
//     sent for the last step) wins — an earlier, timed-out step whose
//     receipt comes late included. Later steps not yet sent are cancelled.
//   - The current step failing outright starts the next at once; not
//     reaching its threshold within the next step's after starts it too, and
//     the current step is cancelled if it has not gone out yet (a step
//     caught mid-send is looked at again a moment later instead).
//   - When the last step fails, the parent fails — unless an earlier step
//     is still out there and may yet be delivered.
func Advance(plan *sb.FailoverPlan, steps map[int]*sb.Message, now time.Time) FailoverDecision {
	d := FailoverDecision{Start: -1}
	if plan.Done {
		if plan.Winner != nil {
			if m := steps[*plan.Winner]; m != nil {
				d.Mirror, d.ErrorCode, d.ErrorMessage = m.Status, m.ErrorCode, m.ErrorMessage
			}
		}
		return d
	}
	cur := plan.Current
	for i := 0; i <= cur; i++ {
		if m := steps[i]; m != nil && reached(m.Status, threshold(plan, i)) {
			win(plan, i, steps, &d)
			d.Mirror = m.Status
			return d
		}
	}
	m := steps[cur]
	step := &plan.Steps[cur]
	if m == nil || step.MessageID == "" {
		if step.State != sb.StepSkipped {
			d.Start = cur
			return d
		}
		// The last step could not be sent at all.
		if pendingEarlier(plan, steps, cur) {
			d.Mirror = sb.StatusSent
			return d
		}
		plan.Done = true
		d.Mirror, d.ErrorCode = sb.StatusFailed, "failover_exhausted"
		d.ErrorMessage = "no failover step reached the customer; the last could not be sent: " + step.Reason
		return d
	}
	last := cur == len(plan.Steps)-1
	switch {
	case failedStatus(m.Status):
		step.State, step.Reason = sb.StepFailed, m.ErrorCode
		if !last {
			d.Start = cur + 1
			return d
		}
		if pendingEarlier(plan, steps, cur) {
			d.Mirror = sb.StatusSent
			return d
		}
		plan.Done = true
		d.Mirror, d.ErrorCode, d.ErrorMessage = sb.StatusFailed, m.ErrorCode, m.ErrorMessage
		if d.ErrorCode == "" {
			d.ErrorCode = "failover_exhausted"
		}
		if d.ErrorMessage == "" {
			d.ErrorMessage = "every failover step failed"
		}
	case !last && step.StartedAt != nil && !now.Before(step.StartedAt.Add(plan.Steps[cur+1].After)):
		if m.Status == sb.StatusSending {
			d.CheckAt = now.Add(sendingRecheck) // its outcome is moments away
			d.Mirror = inFlight(m.Status)
			return d
		}
		next := plan.Steps[cur+1]
		step.State, step.Reason = sb.StepTimedOut, "not "+string(next.Unless)+" within "+next.After.String()
		if unsent(m.Status) {
			d.Cancel = append(d.Cancel, m.ID)
			step.State, step.Reason = sb.StepCancelled, step.Reason+"; cancelled before it was sent"
		}
		d.Start = cur + 1
	default:
		d.Mirror = inFlight(m.Status)
		if !last && step.StartedAt != nil {
			d.CheckAt = step.StartedAt.Add(plan.Steps[cur+1].After)
		}
	}
	return d
}

// pendingEarlier reports whether a step before cur went out and has not
// failed: its delivery may still come and decide the parent.
func pendingEarlier(plan *sb.FailoverPlan, steps map[int]*sb.Message, cur int) bool {
	for i := 0; i < cur; i++ {
		if m := steps[i]; m != nil && !failedStatus(m.Status) && !unsent(m.Status) && plan.Steps[i].State != sb.StepCancelled {
			return true
		}
	}
	return false
}

// inFlight is the status a parent shows while a step is on its way: the
// step's, up to sent.
func inFlight(s sb.Status) sb.Status {
	if s.Rank() > sb.StatusSent.Rank() || s.Rank() < sb.StatusQueued.Rank() {
		return ""
	}
	return s
}

// win records step k as the winner: later steps that have not started
// are cancelled, and started ones that have not gone out are cancelled
// before they do.
func win(plan *sb.FailoverPlan, k int, steps map[int]*sb.Message, d *FailoverDecision) {
	plan.Steps[k].State, plan.Steps[k].Reason = sb.StepWon, ""
	w := k
	plan.Winner, plan.Done = &w, true
	for i := k + 1; i < len(plan.Steps); i++ {
		st := &plan.Steps[i]
		m := steps[i]
		switch {
		case st.MessageID == "":
			st.State = sb.StepCancelled
		case m != nil && unsent(m.Status):
			st.State, st.Reason = sb.StepCancelled, "an earlier step won before this one was sent"
			d.Cancel = append(d.Cancel, m.ID)
		}
	}
}

// Skip marks step i as skipped for reason and reports whether a later step
// remains to try; when none does, Advance decides what becomes of the
// parent (it waits for an earlier step that may still be delivered, or
// fails).
func Skip(plan *sb.FailoverPlan, i int, reason string) bool {
	plan.Steps[i].State, plan.Steps[i].Reason = sb.StepSkipped, reason
	plan.Current = i
	if i+1 < len(plan.Steps) {
		plan.Current = i + 1
		return true
	}
	return false
}
