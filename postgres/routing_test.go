package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/routing"
)

func TestAttach(t *testing.T) {
	db, conn, account := customerAccount(t)
	ctx := context.Background()
	t0 := time.Now()
	attach := func(ch sb.Channel, addr string, dir sb.Direction, at time.Time, idle time.Duration) (sb.Resolution, sb.Join) {
		t.Helper()
		res, j, err := db.Attach(ctx, routing.AttachRequest{AccountID: account, Channel: ch, Address: addr, Direction: dir,
			InboundTo: "+15005550000", At: at, Idle: idle})
		if err != nil {
			t.Fatalf("attach %s:%s: %v", ch, addr, err)
		}
		return res, j
	}
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := conn.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// First contact: customer, identity and conversation together.
	first, j1 := attach(sb.ChannelSMS, "+79990004001", sb.Inbound, t0, time.Hour)
	if !first.CustomerCreated || !j1.Opened || j1.ConversationID == "" {
		t.Fatalf("first contact: %+v %+v", first, j1)
	}
	// Again, and on another phone channel: the same customer and thread.
	again, j2 := attach(sb.ChannelSMS, "+79990004001", sb.Outbound, t0.Add(time.Second), time.Hour)
	wa, j3 := attach(sb.ChannelWhatsApp, "+79990004001", sb.Inbound, t0.Add(2*time.Second), time.Hour)
	if again.CustomerID != first.CustomerID || wa.CustomerID != first.CustomerID || j2.ConversationID != j1.ConversationID ||
		j3.ConversationID != j1.ConversationID || j2.Opened || again.LastInboundTo != "+15005550000" {
		t.Fatalf("repeat contacts: %+v %+v %+v %+v", again, j2, wa, j3)
	}
	var channels []string
	var current, lastIn string
	if err := conn.QueryRow(ctx, `SELECT channels, current_channel, last_inbound_channel FROM conversations WHERE id = $1`, j1.ConversationID).
		Scan(&channels, &current, &lastIn); err != nil {
		t.Fatal(err)
	}
	if len(channels) != 2 || current != "whatsapp" || lastIn != "whatsapp" {
		t.Fatalf("conversation channels %v current %s last inbound %s", channels, current, lastIn)
	}
	// Past the inactivity period the old thread closes and a new one opens.
	_, j4 := attach(sb.ChannelSMS, "+79990004001", sb.Inbound, t0.Add(3*time.Hour), time.Hour)
	if !j4.Opened || j4.ConversationID == j1.ConversationID {
		t.Fatalf("after inactivity: %+v", j4)
	}
	if n := count(`SELECT count(*) FROM conversations WHERE customer_id = $1 AND status = 'closed' AND closed_reason = 'inactivity'`, first.CustomerID); n != 1 {
		t.Fatalf("%d idle-closed conversations, want 1", n)
	}
	// An opted-out identity resolves but joins nothing.
	if _, _, err := db.OptOut(ctx, sb.OptOut{AccountID: account, Channel: sb.ChannelSMS, Address: "+79990004001", Source: "api"}); err != nil {
		t.Fatal(err)
	}
	out, j5 := attach(sb.ChannelSMS, "+79990004001", sb.Outbound, t0.Add(4*time.Hour), time.Hour)
	if !out.OptedOut || j5.ConversationID != "" {
		t.Fatalf("opted out: %+v %+v", out, j5)
	}

	// Concurrent first contacts on two phone channels: one customer, one
	// open conversation.
	var wg sync.WaitGroup
	got := make([]string, 20)
	for i := range got {
		ch := sb.ChannelSMS
		if i%2 == 1 {
			ch = sb.ChannelWhatsApp
		}
		wg.Go(func() {
			res, j, err := db.Attach(ctx, routing.AttachRequest{AccountID: account, Channel: ch, Address: "+79990004002",
				Direction: sb.Inbound, InboundTo: "+15005550000", At: time.Now(), Idle: time.Hour})
			if err != nil || j.ConversationID == "" {
				t.Errorf("attach: %v %+v", err, j)
			}
			got[i] = res.CustomerID
		})
	}
	wg.Wait()
	for _, id := range got {
		if id != got[0] {
			t.Fatalf("concurrent first contacts made several customers: %v", got)
		}
	}
	if n := count(`SELECT count(*) FROM conversations WHERE customer_id = $1 AND status = 'open'`, got[0]); n != 1 {
		t.Fatalf("%d open conversations, want 1", n)
	}
	if n := count(`SELECT count(*) FROM customer_events WHERE customer_id = $1 AND type = 'customer.created'`, got[0]); n != 1 {
		t.Fatalf("%d customer.created events, want 1", n)
	}
}
