package postgres_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/postgres"
	"github.com/switchboardhq/switchboard/routing"
)

func subscribeAll(t *testing.T, db *postgres.DB, account string) {
	t.Helper()
	if _, err := db.CreateEndpoint(context.Background(), &sb.WebhookEndpoint{AccountID: account, URL: "https://example.com/hooks",
		Events: []string{"*"}, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}); err != nil {
		t.Fatal(err)
	}
}

// joinAt opens (or joins) the conversation of (ch, address) as of at.
func joinAt(t *testing.T, db *postgres.DB, account string, ch sb.Channel, address string, at time.Time) string {
	t.Helper()
	ctx := context.Background()
	res, err := db.ResolveIdentity(ctx, account, ch, address)
	if err != nil {
		t.Fatal(err)
	}
	j, err := db.JoinConversation(ctx, routing.JoinRequest{AccountID: account, CustomerID: res.CustomerID, IdentityID: res.IdentityID,
		Channel: ch, Direction: sb.Inbound, At: at, Idle: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return j.ConversationID
}

func TestConversationFiltersAndClose(t *testing.T) {
	ctx := context.Background()
	db, conn, account := customerAccount(t)
	subscribeAll(t, db, account)
	x := mustInteract(t, db, account, sb.ChannelSMS, "+79990000010", sb.Inbound)
	y := mustInteract(t, db, account, sb.ChannelTelegram, "5150", sb.Inbound)
	first, second := x.ConversationID, y.ConversationID

	closed, deliveries, err := db.CloseConversation(ctx, account, first, "api")
	if err != nil || closed.Status != sb.ConversationClosed || closed.ClosedReason != "api" || closed.ClosedAt.IsZero() ||
		closed.MessageCount != 1 || len(deliveries) != 1 {
		t.Fatalf("close: %+v, %d deliveries, %v", closed, len(deliveries), err)
	}
	again, deliveries, err := db.CloseConversation(ctx, account, first, "api")
	if err != nil || !again.ClosedAt.Equal(closed.ClosedAt) || len(deliveries) != 0 {
		t.Fatalf("closing again: %+v, %d deliveries, %v", again, len(deliveries), err)
	}
	var events int
	conn.QueryRow(ctx, `SELECT count(*) FROM customer_events WHERE conversation_id = $1 AND type = 'conversation.closed' AND data->>'reason' = 'api'`,
		first).Scan(&events)
	if events != 1 {
		t.Fatalf("%d conversation.closed events, want 1", events)
	}
	// The customer's next interaction opens a new conversation.
	third := mustInteract(t, db, account, sb.ChannelSMS, "+79990000010", sb.Inbound).ConversationID
	if third == first {
		t.Fatal("interaction joined the closed conversation")
	}

	tests := []struct {
		name string
		f    sb.ConversationFilter
		want []string
	}{
		{"all", sb.ConversationFilter{}, []string{third, second, first}},
		{"open", sb.ConversationFilter{Status: sb.ConversationOpen}, []string{third, second}},
		{"closed", sb.ConversationFilter{Status: sb.ConversationClosed}, []string{first}},
		{"customer", sb.ConversationFilter{CustomerID: x.CustomerID}, []string{third, first}},
		{"channel", sb.ConversationFilter{Channel: sb.ChannelTelegram}, []string{second}},
		{"channel and status", sb.ConversationFilter{Channel: sb.ChannelSMS, Status: sb.ConversationClosed}, []string{first}},
		{"unknown customer", sb.ConversationFilter{CustomerID: uuid.NewString()}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Pages of one, so the cursor is exercised too.
			var got []string
			f := tt.f
			f.Limit = 1
			for {
				page, next, err := db.ListConversations(ctx, account, f)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range page {
					got = append(got, c.ID)
				}
				if next == "" {
					break
				}
				f.Cursor = next
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}

	other, _, _ := db.CreateAccount(ctx, "other", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	for _, id := range []string{first, "not-a-uuid"} {
		if _, err := db.GetConversation(ctx, other, id); !errors.Is(err, sb.ErrNotFound) {
			t.Fatalf("GetConversation(%s) from another account: %v", id, err)
		}
		if _, _, err := db.CloseConversation(ctx, other, id, "api"); !errors.Is(err, sb.ErrNotFound) {
			t.Fatalf("CloseConversation(%s) from another account: %v", id, err)
		}
	}
	if page, _, _ := db.ListConversations(ctx, other, sb.ConversationFilter{Limit: 10}); len(page) != 0 {
		t.Fatalf("another account lists %d conversations", len(page))
	}
}

// TestCloseIdleConversations: each account's inactivity period applies, a
// setting PostgreSQL cannot parse falls back to the default, and closing
// is announced once.
func TestCloseIdleConversations(t *testing.T) {
	ctx := context.Background()
	db, conn, quick := customerAccount(t)
	slow, _, _ := db.CreateAccount(ctx, "slow", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	odd, _, _ := db.CreateAccount(ctx, "odd", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	for account, settings := range map[string]string{quick: `{"conversation_inactivity":"1s"}`, odd: `{"conversation_inactivity":"2µs"}`} {
		if _, err := conn.Exec(ctx, `UPDATE accounts SET settings = $2 WHERE id = $1`, account, settings); err != nil {
			t.Fatal(err)
		}
	}
	subscribeAll(t, db, quick)
	past := time.Now().Add(-5 * time.Second)
	idle := joinAt(t, db, quick, sb.ChannelSMS, "+79990000020", past)
	fresh := joinAt(t, db, quick, sb.ChannelSMS, "+79990000021", time.Now())
	slowConv := joinAt(t, db, slow, sb.ChannelSMS, "+79990000020", past)
	oddConv := joinAt(t, db, odd, sb.ChannelSMS, "+79990000020", past)

	deliveries, err := db.CloseIdleConversations(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(deliveries) != 1 {
		t.Fatalf("%d deliveries, want 1 (conversation.closed to quick's endpoint)", len(deliveries))
	}
	tests := []struct {
		account, id, status, reason string
	}{
		{quick, idle, sb.ConversationClosed, "inactivity"},
		{quick, fresh, sb.ConversationOpen, ""},
		{slow, slowConv, sb.ConversationOpen, ""},
		{odd, oddConv, sb.ConversationOpen, ""},
	}
	for _, tt := range tests {
		c, err := db.GetConversation(ctx, tt.account, tt.id)
		if err != nil || c.Status != tt.status || c.ClosedReason != tt.reason {
			t.Fatalf("conversation %s: %+v, %v; want %s %q", tt.id, c, err, tt.status, tt.reason)
		}
	}
	var events int
	conn.QueryRow(ctx, `SELECT count(*) FROM customer_events WHERE conversation_id = $1 AND type = 'conversation.closed'`, idle).Scan(&events)
	if events != 1 {
		t.Fatalf("%d conversation.closed events, want 1", events)
	}
	if deliveries, err := db.CloseIdleConversations(ctx, 100); err != nil || len(deliveries) != 0 {
		t.Fatalf("second sweep: %d deliveries, %v", len(deliveries), err)
	}
}
