package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/routing"
)

// StepRouter routes a failover step's message to the parent's customer.
type StepRouter interface {
	StartStep(ctx context.Context, parent *sb.Message, i int) (*routing.Outbound, string, error)
}

// failoverBackstop is how long an undecided failover may go without being
// looked at: if the task a step's status change enqueued was lost, the
// sweeper looks again after this.
const failoverBackstop = time.Minute

// EnqueueFailover asks a worker to look at failover parent id at at (now
// when zero). Evaluations are idempotent, so duplicates are harmless.
func (c *Client) EnqueueFailover(ctx context.Context, id string, at time.Time) error {
	body, _ := json.Marshal(map[string]string{"parent_id": id})
	opts := []asynq.Option{asynq.Queue(QueueReceipts), asynq.MaxRetry(25)}
	if !at.IsZero() {
		// One timer per parent and due time.
		opts = append(opts, asynq.ProcessAt(at), asynq.TaskID("fo:"+id+":"+at.UTC().Format(time.RFC3339Nano)))
	}
	_, err := c.asynq.EnqueueContext(ctx, asynq.NewTask(TypeFailover, body), opts...)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue failover %s: %w", id, err)
	}
	return nil
}

func (w *Worker) handleFailover(ctx context.Context, t *asynq.Task) error {
	var p struct {
		ParentID string `json:"parent_id"`
	}
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decode task: %v: %w", err, asynq.SkipRetry)
	}
	return w.EvaluateFailover(ctx, p.ParentID)
}

// EvaluateFailover moves a failover parent along: it reads the plan and the
// messages of the steps started so far, decides (routing.Advance), and
// saves the new plan together with the next step's message, the
// cancellation of steps that must not go out and the parent's mirrored
// status in one transaction. That transaction applies only if the plan is
// unchanged since it was read and the step messages still have the
// statuses the decision saw (it holds them until commit), so a concurrent
// evaluation cannot start a step twice and a receipt cannot slip past a
// decision: the loser re-reads.
func (w *Worker) EvaluateFailover(ctx context.Context, parentID string) error {
	if w.steps == nil {
		return fmt.Errorf("failover %s: worker has no step router: %w", parentID, asynq.SkipRetry)
	}
	for range 5 {
		parent, err := w.store.LoadMessage(ctx, parentID)
		if errors.Is(err, sb.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if parent.Failover == nil {
			return nil
		}
		before, _ := json.Marshal(parent.Failover)
		plan := parent.Failover
		steps := map[int]*sb.Message{}
		observed := map[string]sb.Status{}
		for i, st := range plan.Steps {
			if st.MessageID == "" {
				continue
			}
			m, err := w.store.LoadMessage(ctx, st.MessageID)
			if err != nil {
				return err
			}
			steps[i], observed[m.ID] = m, m.Status
		}
		now := w.now().UTC().Truncate(time.Microsecond)
		d := routing.Advance(plan, steps, now)
		save := sb.FailoverSave{ParentID: parentID, Version: plan.Version, Observed: observed}
		var child *sb.Message
		for start := d.Start; start >= 0; {
			out, skip, err := w.steps.StartStep(ctx, parent, start)
			if err != nil {
				return err
			}
			if skip != "" {
				if routing.Skip(plan, start, skip) {
					start++
					continue
				}
				// Nothing left to start: decide on what is out there.
				redo := routing.Advance(plan, steps, now)
				d.Mirror, d.ErrorCode, d.ErrorMessage, d.CheckAt = redo.Mirror, redo.ErrorCode, redo.ErrorMessage, redo.CheckAt
				d.Cancel = append(d.Cancel, redo.Cancel...)
				break
			}
			child = w.stepMessage(parent, out)
			// A marketing step held by quiet hours starts when they end,
			// and the next step's timer runs from then.
			started := now
			if du := child.DeferredUntil; du.After(now) {
				started = du.UTC()
			}
			step := &plan.Steps[start]
			step.MessageID, step.State, step.StartedAt, step.To, step.From = child.ID, sb.StepSending, &started, out.To, out.From
			plan.Current = start
			d.CheckAt = time.Time{}
			if start+1 < len(plan.Steps) {
				d.CheckAt = started.Add(plan.Steps[start+1].After)
			}
			save.ConversationID = out.ConversationID
			if len(out.Deliveries) > 0 {
				if err := w.client.EnqueueWebhooks(ctx, out.Deliveries); err != nil {
					w.log.WarnContext(ctx, "enqueue webhooks", "err", err)
				}
			}
			break
		}
		save.Child, save.Cancel, save.CheckAt = child, d.Cancel, d.CheckAt
		save.ErrorCode, save.ErrorMessage = d.ErrorCode, d.ErrorMessage
		if d.Mirror != "" && parent.Status.CanMoveTo(d.Mirror) {
			save.Status = d.Mirror
		}
		after, _ := json.Marshal(plan)
		if bytes.Equal(before, after) && save.Status == "" && len(save.Cancel) == 0 {
			// Nothing new: make sure the timer exists and stop.
			return w.scheduleCheck(ctx, parentID, save.CheckAt)
		}
		if !plan.Done && save.CheckAt.IsZero() {
			save.CheckAt = now.Add(failoverBackstop)
		}
		plan.Version++
		save.Plan = plan
		saved, hooks, err := w.store.SaveFailover(ctx, save)
		if err != nil {
			return err
		}
		if !saved {
			continue // the plan or a step moved on meanwhile; look again
		}
		if len(hooks) > 0 {
			if err := w.client.EnqueueWebhooks(ctx, hooks); err != nil {
				w.log.WarnContext(ctx, "enqueue webhooks", "err", err)
			}
		}
		switch c := save.Child; {
		case c == nil:
		case c.DeferredUntil.After(now):
			ref := sb.MessageRef{ID: c.ID, AccountID: c.AccountID, Channel: c.Channel, From: c.From}
			if err := w.client.ScheduleRelease(ctx, ref, c.DeferredUntil); err != nil {
				w.log.WarnContext(ctx, "schedule deferred step; the sweeper sends it when due", "message_id", c.ID, "err", err)
			}
		default:
			w.release(ctx, []*sb.Message{c})
		}
		if !plan.Done {
			return w.scheduleCheck(ctx, parentID, save.CheckAt)
		}
		return nil
	}
	return fmt.Errorf("failover %s: plan kept changing under us", parentID)
}

func (w *Worker) scheduleCheck(ctx context.Context, parentID string, at time.Time) error {
	if at.IsZero() {
		return nil
	}
	return w.client.EnqueueFailover(ctx, parentID, at)
}

// stepMessage builds a failover step's own message: the parent's content
// on the step's channel, pointing back at the parent.
func (w *Worker) stepMessage(parent *sb.Message, out *routing.Outbound) *sb.Message {
	m := &sb.Message{ID: uuid.Must(uuid.NewV7()).String(), AccountID: parent.AccountID, Direction: sb.Outbound,
		Text: parent.Text, MediaURLs: parent.MediaURLs, Metadata: parent.Metadata, Status: sb.StatusAccepted,
		Category: parent.Category, ParentID: parent.ID, Provider: "sandbox"}
	out.Apply(m)
	if m.Channel == sb.ChannelSMS {
		m.Encoding, m.Segments = sb.SMSSegments(m.Text)
	}
	return m
}

// release marks committed messages queued and enqueues them, as the API's
// outbox does; if Redis refuses, the sweeper enqueues them later.
func (w *Worker) release(ctx context.Context, ms []*sb.Message) {
	ids := make([]string, len(ms))
	refs := make([]sb.MessageRef, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
		refs[i] = sb.MessageRef{ID: m.ID, AccountID: m.AccountID, Channel: m.Channel, From: m.From}
	}
	hooks, err := w.store.MarkQueued(ctx, ids)
	if err != nil {
		w.log.WarnContext(ctx, "mark queued; sweeper will retry", "err", err)
		return
	}
	if err := w.client.EnqueueBatch(ctx, refs); err != nil {
		w.log.WarnContext(ctx, "enqueue; sweeper will retry", "err", err)
	}
	if err := w.client.EnqueueWebhooks(ctx, hooks); err != nil {
		w.log.WarnContext(ctx, "enqueue webhooks", "err", err)
	}
}

// ScheduleRelease makes a message deferred by quiet hours go out at at.
func (c *Client) ScheduleRelease(ctx context.Context, ref sb.MessageRef, at time.Time) error {
	body, _ := json.Marshal(ref)
	_, err := c.asynq.EnqueueContext(ctx, asynq.NewTask(TypeRelease, body), asynq.Queue(QueueMessages),
		asynq.ProcessAt(at), asynq.TaskID("rl:"+ref.ID), asynq.MaxRetry(25))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("schedule %s: %w", ref.ID, err)
	}
	return nil
}

func (w *Worker) handleRelease(ctx context.Context, t *asynq.Task) error {
	var ref sb.MessageRef
	if err := json.Unmarshal(t.Payload(), &ref); err != nil {
		return fmt.Errorf("decode task: %v: %w", err, asynq.SkipRetry)
	}
	hooks, err := w.store.MarkQueued(ctx, []string{ref.ID})
	if err != nil {
		return err
	}
	if err := w.client.EnqueueWebhooks(ctx, hooks); err != nil {
		w.log.WarnContext(ctx, "enqueue webhooks", "err", err)
	}
	return w.client.EnqueueDelivery(ctx, ref, "")
}

// stepChanged is called for every applied transition: a failover step's
// change may decide its parent.
func (w *Worker) stepChanged(ctx context.Context, m *sb.Message) {
	if m == nil || m.ParentID == "" {
		return
	}
	if err := w.client.EnqueueFailover(ctx, m.ParentID, time.Time{}); err != nil {
		w.log.WarnContext(ctx, "enqueue failover check; the sweeper will look", "parent_id", m.ParentID, "err", err)
	}
}
