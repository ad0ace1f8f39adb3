package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
)

// Task types of calls and bot sessions. They run on the receipts queue:
// small, latency-sensitive work that must not wait behind a send backlog.
const (
	TypeCallDial   = "call:dial"
	TypeCallRing   = "call:ring-timeout"
	TypeCallExpire = "call:expire"
	TypeBotTimeout = "bot:timeout"
	TypeBotMessage = "bot:message"
)

// Bots is the voice-bot runtime the worker drives.
type Bots interface {
	// Dial places a queued call.
	Dial(ctx context.Context, accountID, callID string) error
	// RingTimeout ends a browser call that rang out unanswered.
	RingTimeout(ctx context.Context, accountID, callID string) error
	// ExpireLive ends a browser call whose carrying process stopped
	// touching it.
	ExpireLive(ctx context.Context, accountID, callID string) error
	// Timeout tells a session its wait ran out, if it is still at save seq.
	Timeout(ctx context.Context, accountID, sessionID string, seq int) error
	// OnMessage lets the bot answer an inbound message.
	OnMessage(ctx context.Context, accountID, messageID string) error
}

// WithBots gives the worker the voice-bot runtime.
func (w *Worker) WithBots(b Bots) *Worker {
	w.bots = b
	return w
}

type botTask struct {
	AccountID string `json:"account_id"`
	ID        string `json:"id"`
	Seq       int    `json:"seq,omitempty"`
}

func (c *Client) enqueueBot(ctx context.Context, typ string, p botTask, opts ...asynq.Option) error {
	body, _ := json.Marshal(p)
	opts = append([]asynq.Option{asynq.Queue(QueueReceipts), asynq.MaxRetry(10)}, opts...)
	_, err := c.asynq.EnqueueContext(ctx, asynq.NewTask(typ, body), opts...)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue %s %s: %w", typ, p.ID, err)
	}
	return nil
}

// EnqueueDial asks a worker to place call id. The task id makes a
// repeated request one task.
func (c *Client) EnqueueDial(ctx context.Context, accountID, callID string) error {
	return c.enqueueBot(ctx, TypeCallDial, botTask{AccountID: accountID, ID: callID}, asynq.TaskID("dial:"+callID))
}

// EnqueueRingTimeout arms the ring timeout of a browser call: at at, if
// it still rings, it is no-answer.
func (c *Client) EnqueueRingTimeout(ctx context.Context, accountID, callID string, at time.Time) error {
	return c.enqueueBot(ctx, TypeCallRing, botTask{AccountID: accountID, ID: callID}, asynq.ProcessAt(at), asynq.TaskID("ring:"+callID))
}

// EnqueueCallExpiry asks a worker to end a browser call nobody carries.
func (c *Client) EnqueueCallExpiry(ctx context.Context, accountID, callID string) error {
	return c.enqueueBot(ctx, TypeCallExpire, botTask{AccountID: accountID, ID: callID}, asynq.TaskID("expire:"+callID))
}

// EnqueueBotTimeout arms the timer of a waiting session: at at, unless the
// session moved past save seq, it hears InputTimeout.
func (c *Client) EnqueueBotTimeout(ctx context.Context, accountID, sessionID string, seq int, at time.Time) error {
	return c.enqueueBot(ctx, TypeBotTimeout, botTask{AccountID: accountID, ID: sessionID, Seq: seq},
		asynq.ProcessAt(at), asynq.TaskID("bt:"+sessionID+":"+strconv.Itoa(seq)))
}

// EnqueueBotMessage hands an inbound message to the account's bot.
func (c *Client) EnqueueBotMessage(ctx context.Context, accountID, messageID string) error {
	return c.enqueueBot(ctx, TypeBotMessage, botTask{AccountID: accountID, ID: messageID}, asynq.TaskID("bm:"+messageID))
}

func (w *Worker) handleBot(ctx context.Context, t *asynq.Task) error {
	var p botTask
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decode task: %v: %w", err, asynq.SkipRetry)
	}
	if w.bots == nil {
		return fmt.Errorf("%s: this worker runs no voice bots: %w", t.Type(), asynq.SkipRetry)
	}
	var err error
	switch t.Type() {
	case TypeCallDial:
		err = w.bots.Dial(ctx, p.AccountID, p.ID)
	case TypeCallRing:
		err = w.bots.RingTimeout(ctx, p.AccountID, p.ID)
	case TypeCallExpire:
		err = w.bots.ExpireLive(ctx, p.AccountID, p.ID)
	case TypeBotTimeout:
		err = w.bots.Timeout(ctx, p.AccountID, p.ID, p.Seq)
	case TypeBotMessage:
		err = w.bots.OnMessage(ctx, p.AccountID, p.ID)
	}
	if err != nil {
		w.log.WarnContext(ctx, "bot task failed", "type", t.Type(), "id", p.ID, "err", err)
	}
	return err
}
