package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
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
// current step's message, decides (routing.Advance), and saves the new plan
// together with the next step's message and the parent's mirrored status in
// one transaction that only applies if the plan is unchanged since it was
// read. A concurrent evaluation therefore cannot start a step twice: the
// loser re-reads and finds the step started.
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
		var current *sb.Message
		idx := plan.Current
		if plan.Winner != nil {
			idx = *plan.Winner
		}
		if id := plan.Steps[idx].MessageID; id != "" {
			if current, err = w.store.LoadMessage(ctx, id); err != nil {
				return err
			}
		}
		now := w.now().UTC().Truncate(time.Microsecond)
		d := routing.Advance(plan, current, now)
		save := sb.FailoverSave{ParentID: parentID, Version: plan.Version, ErrorCode: d.ErrorCode, ErrorMessage: d.ErrorMessage, CheckAt: d.CheckAt}
		if d.Mirror != "" && parent.Status.CanMoveTo(d.Mirror) {
			save.Status = d.Mirror
		}
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
				save.Status, save.ErrorCode = sb.StatusFailed, "failover_exhausted"
				save.ErrorMessage = "no failover step could be sent; the last was skipped: " + skip
				break
			}
			save.Child = w.stepMessage(parent, out)
			// A marketing step held by quiet hours starts when they end,
			// and the next step's timer runs from then.
			started := now
			if d := save.Child.DeferredUntil; d.After(now) {
				started = d.UTC()
			}
			step := &plan.Steps[start]
			step.MessageID, step.State, step.StartedAt, step.To, step.From = save.Child.ID, sb.StepSending, &started, out.To, out.From
			plan.Current = start
			if start+1 < len(plan.Steps) {
				save.CheckAt = started.Add(plan.Steps[start+1].After)
			}
			save.ConversationID = out.ConversationID
			if len(out.Deliveries) > 0 {
				if err := w.client.EnqueueWebhooks(ctx, out.Deliveries); err != nil {
					w.log.WarnContext(ctx, "enqueue webhooks", "err", err)
				}
			}
			break
		}
		after, _ := json.Marshal(plan)
		if reflect.DeepEqual(before, after) && save.Status == "" {
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
			continue // another worker moved it on; look again
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
