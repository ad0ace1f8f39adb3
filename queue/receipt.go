package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"

	sb "github.com/switchboardhq/switchboard"
)

func (w *Worker) handleReceipt(ctx context.Context, t *asynq.Task) error {
	var r sb.Receipt
	if err := json.Unmarshal(t.Payload(), &r); err != nil {
		return fmt.Errorf("decode receipt: %v: %w", err, asynq.SkipRetry)
	}
	return w.ApplyReceipt(ctx, r)
}

// ApplyReceipt moves a message to the status a provider reported. A receipt
// for a message we do not know is counted and acknowledged (providers retry
// unacknowledged ones forever); a late or out-of-order one changes nothing.
func (w *Worker) ApplyReceipt(ctx context.Context, r sb.Receipt) error {
	id := r.MessageID
	if id == "" {
		var err error
		id, err = w.store.FindByProviderID(ctx, r.AccountID, r.Provider, r.ProviderMessageID)
		if errors.Is(err, sb.ErrNotFound) {
			unknownReceipts.WithLabelValues(r.Provider).Inc()
			return nil
		}
		if err != nil {
			return err
		}
	}
	if r.Status == sb.StatusRead {
		// Read implies delivered: record that first, or a read receipt that
		// overtakes its delivered one (they are applied concurrently) would
		// leave the message without message.delivered.
		res, err := w.store.Transition(ctx, id, sb.Change{Status: sb.StatusDelivered, After: sb.StatusSent})
		if err != nil && !errors.Is(err, sb.ErrNotFound) {
			return fmt.Errorf("apply receipt: %w", err)
		}
		if err == nil {
			w.announce(ctx, res, sb.StatusDelivered)
		}
	}
	res, err := w.store.Transition(ctx, id, sb.Change{Status: r.Status, After: sb.StatusSent, ErrorCode: r.ErrorCode, ErrorMessage: r.ErrorMessage})
	if errors.Is(err, sb.ErrNotFound) {
		unknownReceipts.WithLabelValues(r.Provider).Inc()
		w.log.DebugContext(ctx, "receipt for unknown message", "message_id", id, "provider", r.Provider)
		return nil
	}
	if err != nil {
		return fmt.Errorf("apply receipt: %w", err)
	}
	if !res.Applied && (res.Message.Status.Rank() < sb.StatusSent.Rank() || res.Message.Status.CanMoveTo(r.Status)) {
		// The carrier answered before "sent" was recorded (or its worker
		// died in between and another is taking over), or "sent" committed
		// between our update and the read that followed it: try again.
		return ErrReceiptEarly
	}
	w.announce(ctx, res, r.Status)
	return nil
}

// ErrReceiptEarly is returned for a receipt that arrived before its
// message was recorded as sent; the receipt is retried.
var ErrReceiptEarly = errors.New("receipt arrived before the message was recorded as sent")
