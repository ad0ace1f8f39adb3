package postgres_test

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/postgres"
)

// TestTimelineOrderAndPagination interleaves messages and customer events
// and pages through them: newest first, nothing repeated or skipped.
func TestTimelineOrderAndPagination(t *testing.T) {
	ctx := context.Background()
	db, _, account := customerAccount(t)
	const addr = "+79990000030"
	c := createCustomer(t, db, &sb.Customer{AccountID: account, Identities: []sb.Identity{{Channel: sb.ChannelSMS, Address: addr}}})
	// customer.created, then conversation.opened with the first message,
	// then messages, a close, a new conversation, an opt-out.
	for range 3 {
		mustInteract(t, db, account, sb.ChannelSMS, addr, sb.Inbound)
	}
	conv := mustInteract(t, db, account, sb.ChannelSMS, addr, sb.Outbound).ConversationID
	if _, _, err := db.CloseConversation(ctx, account, conv, "api"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		mustInteract(t, db, account, sb.ChannelSMS, addr, sb.Inbound)
	}
	if _, _, err := db.OptOut(ctx, sb.OptOut{AccountID: account, Channel: sb.ChannelSMS, Address: addr, Source: "api"}); err != nil {
		t.Fatal(err)
	}
	mustInteract(t, db, account, sb.ChannelSMS, addr, sb.Outbound)
	// Another customer's interactions stay off this timeline.
	mustInteract(t, db, account, sb.ChannelSMS, "+79990000031", sb.Inbound)

	all, next, err := db.Timeline(ctx, account, c.ID, "", 100)
	if err != nil || next != "" {
		t.Fatalf("timeline: %v, next %q", err, next)
	}
	var kinds []string
	for _, e := range all {
		kind := e.Type
		switch {
		case e.Type == "message" && (e.Message == nil || e.Message.CustomerID != c.ID || e.Event != nil):
			t.Fatalf("entry %+v", e)
		case e.Type == "event" && (e.Event == nil || e.Event.CustomerID != c.ID || e.Message != nil):
			t.Fatalf("entry %+v", e)
		case e.Type == "event":
			kind = e.Event.Type
		}
		kinds = append(kinds, kind)
	}
	slices.Reverse(kinds)
	want := []string{"customer.created", "conversation.opened", "message", "message", "message", "message", "conversation.closed",
		"conversation.opened", "message", "message", "customer.opted_out", "message"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("timeline, oldest first:\n%v\nwant\n%v", kinds, want)
	}
	if !slices.IsSortedFunc(all, func(a, b sb.TimelineEntry) int { return strings.Compare(b.ID, a.ID) }) {
		t.Fatal("timeline not newest first")
	}

	for _, limit := range []int{1, 2, 5, 11, 12} {
		var got []sb.TimelineEntry
		cursor := ""
		for pages := 0; ; pages++ {
			page, next, err := db.Timeline(ctx, account, c.ID, cursor, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > limit || (next != "" && len(page) != limit) || pages > 20 {
				t.Fatalf("limit %d: page of %d, next %q", limit, len(page), next)
			}
			got = append(got, page...)
			if next == "" {
				break
			}
			cursor = next
		}
		if !slices.EqualFunc(got, all, func(a, b sb.TimelineEntry) bool { return a.ID == b.ID }) {
			t.Fatalf("limit %d: pages hold %d entries, not the %d of the timeline in order", limit, len(got), len(all))
		}
	}

	// A merged-away id reads the survivor's timeline; unknown ids are 404s.
	into := createCustomer(t, db, &sb.Customer{AccountID: account})
	if _, _, err := db.MergeCustomers(ctx, account, into.ID, c.ID); err != nil {
		t.Fatal(err)
	}
	merged, _, err := db.Timeline(ctx, account, c.ID, "", 100)
	if err != nil || len(merged) != len(all)+2 { // + into's customer.created and customer.merged
		t.Fatalf("timeline through the old id: %d entries, %v", len(merged), err)
	}
	for _, id := range []string{uuid.NewString(), "nope"} {
		if _, _, err := db.Timeline(ctx, account, id, "", 10); !errors.Is(err, sb.ErrNotFound) {
			t.Fatalf("Timeline(%s): %v", id, err)
		}
	}
	if _, _, err := db.Timeline(ctx, uuid.NewString(), into.ID, "", 10); !errors.Is(err, sb.ErrNotFound) {
		t.Fatalf("timeline from another account: %v", err)
	}
	if _, _, err := db.Timeline(ctx, account, into.ID, "garbage", 10); sb.ErrorCode(err) != sb.EINVALID {
		t.Fatalf("bad cursor: %v", err)
	}
}

// Timeline benchmark data: one customer with timelineMessages messages and
// some events, among otherCustomers customers with their own.
const (
	timelineMessages = 10_000
	timelineEvents   = 200
	otherCustomers   = 50
	otherMessages    = 2_000
)

// seedTimeline fills a fresh database for the benchmark and the plan test
// and returns the store, the account and the busy customer.
func seedTimeline(tb testing.TB) (*postgres.DB, *pgx.Conn, string, string) {
	tb.Helper()
	ctx := context.Background()
	db, conn, account := customerAccount(tb)
	customers := make([]string, otherCustomers+1)
	for i := range customers {
		c, _, err := db.CreateCustomer(ctx, &sb.Customer{AccountID: account})
		if err != nil {
			tb.Fatal(err)
		}
		customers[i] = c.ID
	}
	busy := customers[0]
	// Ids are minted in time order across customers, as traffic would.
	msgs := make(map[string][]string, len(customers))
	events := make(map[string][]string, len(customers))
	for i := range timelineMessages {
		msgs[busy] = append(msgs[busy], uuid.Must(uuid.NewV7()).String())
		if i%(timelineMessages/otherMessages) == 0 {
			for _, other := range customers[1:] {
				msgs[other] = append(msgs[other], uuid.Must(uuid.NewV7()).String())
			}
		}
		if i%(timelineMessages/timelineEvents) == 0 {
			for _, c := range customers {
				events[c] = append(events[c], uuid.Must(uuid.NewV7()).String())
			}
		}
	}
	for _, c := range customers {
		if _, err := conn.Exec(ctx, `INSERT INTO messages (id, account_id, channel, direction, from_addr, to_addr, body, status, provider,
				customer_id, created_at, updated_at)
			SELECT u.id, $1, 'sms', CASE WHEN u.n % 2 = 0 THEN 'inbound' ELSE 'outbound' END, '+15005550000', '+79990000000',
				'message ' || u.n, 'delivered', 'sandbox', $2, now(), now()
			FROM unnest($3::uuid[]) WITH ORDINALITY AS u(id, n)`, account, c, msgs[c]); err != nil {
			tb.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO customer_events (id, account_id, customer_id, type, data, created_at)
			SELECT u.id, $1, $2, 'customer.opted_out', '{"channel":"sms"}', now()
			FROM unnest($3::uuid[]) AS u(id)`, account, c, events[c]); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, `ANALYZE messages; ANALYZE customer_events`); err != nil {
		tb.Fatal(err)
	}
	return db, conn, account, busy
}

// BenchmarkTimelineFirstPage reads the first page (20 entries) of the
// timeline of a customer with 10,000 messages. It reports the median too:
// the target is a p50 of at most 20 ms.
func BenchmarkTimelineFirstPage(b *testing.B) {
	ctx := context.Background()
	db, _, account, busy := seedTimeline(b)
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		page, _, err := db.Timeline(ctx, account, busy, "", 20)
		took = append(took, time.Since(start))
		if err != nil || len(page) != 20 {
			b.Fatalf("page of %d, %v", len(page), err)
		}
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	b.ReportMetric(float64(took[len(took)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds()), "p99-ns")
}

// TestTimelinePlan logs the plans of the timeline's first page for a
// customer with 10,000 messages and checks that they read the
// (customer_id, id DESC) indexes rather than scanning or sorting.
func TestTimelinePlan(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 110,000 messages")
	}
	ctx := context.Background()
	db, _, account, busy := seedTimeline(t)
	if _, _, err := db.Timeline(ctx, account, busy, "", 20); err != nil { // warm the cache as a client would
		t.Fatal(err)
	}
	plan, err := db.ExplainTimeline(ctx, account, busy, 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + plan)
	for _, index := range []string{"messages_customer", "customer_events_customer"} {
		if !strings.Contains(plan, index) {
			t.Errorf("the timeline does not use index %s", index)
		}
	}
}
