package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"

	sb "github.com/switchboardhq/switchboard"
)

// TestGroupCommit: concurrent inserts share commits, every one is stored
// with its first event, and a bad row fails alone.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	db.EnableGroupCommit(2)
	account, _, err := db.CreateAccount(ctx, "t", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	errs := make([]error, n)
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			acct := account
			if i == 137 {
				acct = uuid.NewString() // no such account: violates the foreign key
			}
			m := &sb.Message{ID: uuid.Must(uuid.NewV7()).String(), AccountID: acct, Channel: sb.ChannelSMS, Direction: sb.Outbound,
				From: "+15005550000", To: "+15551234567", Text: "batched", Status: sb.StatusAccepted, Provider: "sandbox",
				Encoding: sb.EncodingGSM7, Segments: 1, MediaURLs: []string{"https://example.com/a.png"}}
			ids[i] = m.ID
			_, _, _, errs[i] = db.CreateMessage(ctx, m, nil, nil)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if (err != nil) != (i == 137) {
			t.Fatalf("insert %d: err %v", i, err)
		}
	}
	for i, id := range ids {
		m, err := db.GetMessage(ctx, account, id)
		if i == 137 {
			if err == nil {
				t.Fatal("bad row was stored")
			}
			continue
		}
		if err != nil {
			t.Fatalf("message %d missing: %v", i, err)
		}
		if m.Segments != 1 || len(m.MediaURLs) != 1 || m.Status != sb.StatusAccepted {
			t.Fatalf("stored %+v", m)
		}
		ev, err := db.ListEvents(ctx, account, id)
		if err != nil || len(ev) != 1 || ev[0].Sequence != 1 {
			t.Fatalf("events %v %v", ev, err)
		}
	}
}
