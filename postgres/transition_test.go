package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/postgres"
	"github.com/switchboardhq/switchboard/testenv"
)

func openDB(t *testing.T) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), testenv.DatabaseURL(t), 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func newMessage(t *testing.T, db *postgres.DB, account string) *sb.Message {
	t.Helper()
	m := &sb.Message{ID: uuid.Must(uuid.NewV7()).String(), AccountID: account, Channel: sb.ChannelSMS, Direction: sb.Outbound,
		From: "+15005550000", To: "+15551234567", Text: "hi", Status: sb.StatusAccepted, Provider: "sandbox"}
	if _, _, _, err := db.CreateMessage(context.Background(), m, nil, nil); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTransitionsNeverGoBackwards applies receipts in every awkward order.
func TestTransitionsNeverGoBackwards(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	account, _, err := db.CreateAccount(ctx, "t", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		steps []sb.Status
		final sb.Status
		seq   int
	}{
		{"in order", []sb.Status{sb.StatusQueued, sb.StatusSending, sb.StatusSent, sb.StatusDelivered}, sb.StatusDelivered, 5},
		{"late sent after delivered", []sb.Status{sb.StatusQueued, sb.StatusDelivered, sb.StatusSent}, sb.StatusDelivered, 3},
		{"read after delivered", []sb.Status{sb.StatusSent, sb.StatusDelivered, sb.StatusRead}, sb.StatusRead, 4},
		{"delivered after read ignored", []sb.Status{sb.StatusSent, sb.StatusRead, sb.StatusDelivered}, sb.StatusRead, 3},
		{"failed is final", []sb.Status{sb.StatusSending, sb.StatusFailed, sb.StatusDelivered, sb.StatusSent}, sb.StatusFailed, 3},
		{"duplicate receipt", []sb.Status{sb.StatusSent, sb.StatusDelivered, sb.StatusDelivered}, sb.StatusDelivered, 3},
		{"late undelivered after delivered", []sb.Status{sb.StatusSent, sb.StatusDelivered, sb.StatusUndelivered, sb.StatusFailed}, sb.StatusDelivered, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMessage(t, db, account)
			for _, st := range tt.steps {
				if _, err := db.Transition(ctx, m.ID, sb.Change{Status: st, ProviderMessageID: "P" + m.ID}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := db.GetMessage(ctx, account, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			events, _ := db.ListEvents(ctx, account, m.ID)
			if got.Status != tt.final || got.Sequence != tt.seq || len(events) != tt.seq {
				t.Fatalf("status %s seq %d events %d; want %s %d", got.Status, got.Sequence, len(events), tt.final, tt.seq)
			}
			if got.ProviderMessageID != "P"+m.ID {
				t.Fatalf("provider id %q lost", got.ProviderMessageID)
			}
		})
	}
}

// TestClaimIsExclusive: of many workers claiming one message, one wins; a
// lapsed lease lets another take over without a second "sending" event.
func TestClaimIsExclusive(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	account, _, _ := db.CreateAccount(ctx, "t", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	m := newMessage(t, db, account)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 10 {
		wg.Go(func() {
			_, ok, err := db.Claim(ctx, m.ID, 300*time.Millisecond)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d workers claimed the message", wins)
	}
	time.Sleep(400 * time.Millisecond)
	got, ok, err := db.Claim(ctx, m.ID, time.Second)
	if err != nil || !ok {
		t.Fatalf("claim after lease expiry: ok=%v err=%v", ok, err)
	}
	if got.Attempts != 2 || got.Sequence != 2 {
		t.Fatalf("attempts %d sequence %d, want 2 and 2", got.Attempts, got.Sequence)
	}
	if _, err := db.Transition(ctx, m.ID, sb.Change{Status: sb.StatusSent}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := db.Claim(ctx, m.ID, time.Second); ok {
		t.Fatal("claimed a message already sent")
	}
}

// TestReceiptWaitsForSent: a receipt (After: sent) does not land on a
// message still sending, and does once "sent" is recorded; sent and an
// immediate receipt commit together.
func TestReceiptWaitsForSent(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	account, _, _ := db.CreateAccount(ctx, "t", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	m := newMessage(t, db, account)
	if _, ok, err := db.Claim(ctx, m.ID, time.Minute); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	receipt := sb.Change{Status: sb.StatusDelivered, After: sb.StatusSent}
	res, err := db.Transition(ctx, m.ID, receipt)
	if err != nil || res.Applied || res.Message.Status != sb.StatusSending {
		t.Fatalf("early receipt: applied=%v status=%v err=%v", res.Applied, res.Message.Status, err)
	}
	if _, err := db.Transition(ctx, m.ID, sb.Change{Status: sb.StatusSent, ProviderMessageID: "P1"}); err != nil {
		t.Fatal(err)
	}
	if res, err = db.Transition(ctx, m.ID, receipt); err != nil || !res.Applied || res.Message.Status != sb.StatusDelivered {
		t.Fatalf("receipt after sent: applied=%v err=%v", res.Applied, err)
	}

	m2 := newMessage(t, db, account)
	if _, _, err := db.Claim(ctx, m2.ID, time.Minute); err != nil {
		t.Fatal(err)
	}
	steps, err := db.TransitionSteps(ctx, []sb.TransitionStep{
		{Status: sb.StatusSent, Items: []sb.ChangeItem{{ID: m2.ID, ProviderMessageID: "P2"}}},
		{Status: sb.StatusUndelivered, Items: []sb.ChangeItem{{ID: m2.ID, ErrorCode: "30003"}}},
	})
	if err != nil || len(steps[0]) != 1 || len(steps[1]) != 1 {
		t.Fatalf("steps %v err %v", steps, err)
	}
	ev, _ := db.ListEvents(ctx, account, m2.ID)
	if len(ev) != 4 || ev[2].Status != sb.StatusSent || ev[3].Status != sb.StatusUndelivered || ev[3].ErrorCode != "30003" {
		t.Fatalf("events %+v", ev)
	}
}
