package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/postgres"
)

const accountSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // customerAccount's callback secret

func createFlow(t *testing.T, db *postgres.DB, account, name string) *sb.FlowRecord {
	t.Helper()
	f, err := db.CreateFlow(context.Background(), &sb.FlowRecord{AccountID: account, Name: name,
		Definition: json.RawMessage(`{"steps":[{"id":"a","type":"hangup"}]}`)})
	if err != nil {
		t.Fatalf("create flow: %v", err)
	}
	return f
}

func TestFlowVersions(t *testing.T) {
	ctx := context.Background()
	db, _, account := customerAccount(t)
	other, _, err := db.CreateAccount(ctx, "other", accountSecret)
	if err != nil {
		t.Fatal(err)
	}
	f := createFlow(t, db, account, "ivr")
	if f.Version != 1 || f.ID == "" || f.AccountID != account || f.CreatedAt.IsZero() {
		t.Fatalf("created %+v", f)
	}
	v2, err := db.AddFlowVersion(ctx, account, f.ID, "", json.RawMessage(`{"steps":[{"id":"b","type":"hangup"}]}`))
	if err != nil || v2.Version != 2 || v2.Name != "ivr" {
		t.Fatalf("version 2: %+v, %v", v2, err)
	}
	v3, err := db.AddFlowVersion(ctx, account, f.ID, "ivr v3", json.RawMessage(`{"steps":[{"id":"c","type":"hangup"}]}`))
	if err != nil || v3.Version != 3 || v3.Name != "ivr v3" {
		t.Fatalf("version 3: %+v, %v", v3, err)
	}
	latest, err := db.GetFlow(ctx, account, f.ID, 0)
	if err != nil || latest.Version != 3 || !strings.Contains(string(latest.Definition), `"c"`) {
		t.Fatalf("latest: %+v, %v", latest, err)
	}
	first, err := db.GetFlow(ctx, account, f.ID, 1)
	if err != nil || first.Version != 1 || !strings.Contains(string(first.Definition), `"a"`) || first.Name != "ivr" {
		t.Fatalf("version 1: %+v, %v", first, err)
	}
	for _, tc := range []struct {
		account, id string
		version     int
	}{{account, f.ID, 4}, {other, f.ID, 0}, {account, uuid.NewString(), 0}, {account, "nope", 1}} {
		if _, err := db.GetFlow(ctx, tc.account, tc.id, tc.version); !errors.Is(err, sb.ErrNotFound) {
			t.Errorf("GetFlow(%+v): %v", tc, err)
		}
	}
	versions, err := db.ListFlowVersions(ctx, account, f.ID)
	if err != nil || len(versions) != 3 || versions[0].Version != 1 || versions[2].Version != 3 {
		t.Fatalf("versions: %d, %v", len(versions), err)
	}

	// Listing: the latest version of each live flow, newest flow first.
	g := createFlow(t, db, account, "second")
	h := createFlow(t, db, account, "third")
	createFlow(t, db, other, "not mine")
	var listed []*sb.FlowRecord
	cursor := ""
	for range 10 {
		page, next, err := db.ListFlows(ctx, account, cursor, 1)
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	got := func(fs []*sb.FlowRecord) []string {
		var out []string
		for _, f := range fs {
			out = append(out, fmt.Sprintf("%s@%d", f.Name, f.Version))
		}
		return out
	}
	if want := []string{"third@1", "second@1", "ivr v3@3"}; !slices.Equal(got(listed), want) {
		t.Fatalf("listed %v, want %v", got(listed), want)
	}
	if _, _, err := db.ListFlows(ctx, account, "garbage", 10); sb.ErrorCode(err) != sb.EINVALID {
		t.Fatalf("bad cursor: %v", err)
	}

	// A deleted flow has no latest version, but pinned versions stay.
	if err := db.DeleteFlow(ctx, account, f.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetFlow(ctx, account, f.ID, 0); !errors.Is(err, sb.ErrNotFound) {
		t.Fatalf("latest of a deleted flow: %v", err)
	}
	if v, err := db.GetFlow(ctx, account, f.ID, 2); err != nil || v.Version != 2 {
		t.Fatalf("pinned version of a deleted flow: %+v, %v", v, err)
	}
	if _, err := db.AddFlowVersion(ctx, account, f.ID, "", json.RawMessage(`{}`)); !errors.Is(err, sb.ErrNotFound) {
		t.Fatalf("new version of a deleted flow: %v", err)
	}
	if _, err := db.ListFlowVersions(ctx, account, f.ID); !errors.Is(err, sb.ErrNotFound) {
		t.Fatalf("versions of a deleted flow: %v", err)
	}
	for _, id := range []string{f.ID, uuid.NewString()} {
		if err := db.DeleteFlow(ctx, account, id); !errors.Is(err, sb.ErrNotFound) {
			t.Fatalf("delete %s again: %v", id, err)
		}
	}
	if err := db.DeleteFlow(ctx, other, g.ID); !errors.Is(err, sb.ErrNotFound) {
		t.Fatalf("delete from another account: %v", err)
	}
	listed, _, err = db.ListFlows(ctx, account, "", 10)
	if want := []string{"third@1", "second@1"}; err != nil || !slices.Equal(got(listed), want) {
		t.Fatalf("after delete: %v, %v", got(listed), err)
	}
	if _, err := db.CreateFlow(ctx, &sb.FlowRecord{ID: h.ID, AccountID: account, Definition: json.RawMessage(`{}`)}); sb.ErrorCode(err) != sb.ECONFLICT {
		t.Fatalf("create with a taken id: %v", err)
	}
}

// TestAddFlowVersionConcurrent: concurrent uploads get distinct,
// consecutive versions.
func TestAddFlowVersionConcurrent(t *testing.T) {
	ctx := context.Background()
	db, _, account := customerAccount(t)
	f := createFlow(t, db, account, "busy")
	const n = 24
	var wg sync.WaitGroup
	versions := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			v, err := db.AddFlowVersion(ctx, account, f.ID, "", json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)))
			errs[i] = err
			if err == nil {
				versions[i] = v.Version
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	slices.Sort(versions)
	for i, v := range versions {
		if v != i+2 {
			t.Fatalf("versions %v, want 2..%d", versions, n+1)
		}
	}
	all, err := db.ListFlowVersions(ctx, account, f.ID)
	if err != nil || len(all) != n+1 {
		t.Fatalf("%d versions, %v", len(all), err)
	}
}

func newCall(t *testing.T, db *postgres.DB, c *sb.Call) (*sb.Call, []string) {
	t.Helper()
	if c.Direction == "" {
		c.Direction = sb.CallOutbound
	}
	if c.Channel == "" {
		c.Channel = sb.ChannelVoice
	}
	if c.From == "" {
		c.From, c.To = "+15005550000", "+79990000100"
	}
	if c.Provider == "" {
		c.Provider = "sandbox"
	}
	got, deliveries, err := db.CreateCall(context.Background(), c)
	if err != nil {
		t.Fatalf("create call: %v", err)
	}
	return got, deliveries
}

func TestCallsCreateAndList(t *testing.T) {
	ctx := context.Background()
	db, _, account := customerAccount(t)
	other, _, err := db.CreateAccount(ctx, "other", accountSecret)
	if err != nil {
		t.Fatal(err)
	}
	m := mustInteract(t, db, account, sb.ChannelSMS, "+79990000100", sb.Inbound)
	cust2 := createCustomer(t, db, &sb.Customer{AccountID: account})
	flow := createFlow(t, db, account, "ivr")

	c1, deliveries := newCall(t, db, &sb.Call{AccountID: account, CustomerID: m.CustomerID, ConversationID: m.ConversationID,
		FlowID: flow.ID, FlowVersion: 1, Record: true, Timeout: 30, MachineDetection: "Enable"})
	if c1.ID == "" || c1.Status != sb.CallQueued || c1.Sequence != 1 || c1.CreatedAt.IsZero() || len(deliveries) != 0 {
		t.Fatalf("created %+v, deliveries %v", c1, deliveries)
	}
	got, err := db.GetCall(ctx, account, c1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := mustJSON(t, got), mustJSON(t, c1); a != b {
		t.Fatalf("read back\n%s\nwant\n%s", a, b)
	}
	inline := json.RawMessage(`{"steps":[{"id":"s","type":"say","text":"hi"}]}`)
	c2, _ := newCall(t, db, &sb.Call{AccountID: account, CustomerID: cust2.ID, Direction: sb.CallInbound, Status: sb.CallRinging, Flow: inline})
	if g, err := db.GetCall(ctx, account, c2.ID); err != nil || !jsonEqual(g.Flow, inline) || g.FlowID != "" || g.Status != sb.CallRinging {
		t.Fatalf("inline flow call: %+v, %v", g, err)
	}
	callback := uuid.NewString()
	c3, _ := newCall(t, db, &sb.Call{AccountID: account, CustomerID: m.CustomerID, FlowID: flow.ID, ParentCallID: c1.ID, CallbackID: callback})
	newCall(t, db, &sb.Call{AccountID: other})

	ids := func(cs []*sb.Call) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    sb.CallFilter
		want []string
	}{
		{"all", sb.CallFilter{}, []string{c3.ID, c2.ID, c1.ID}},
		{"status", sb.CallFilter{Status: sb.CallRinging}, []string{c2.ID}},
		{"customer", sb.CallFilter{CustomerID: m.CustomerID}, []string{c3.ID, c1.ID}},
		{"direction", sb.CallFilter{Direction: sb.CallOutbound}, []string{c3.ID, c1.ID}},
		{"flow", sb.CallFilter{FlowID: flow.ID}, []string{c3.ID, c1.ID}},
		{"flow and customer", sb.CallFilter{FlowID: flow.ID, CustomerID: cust2.ID}, nil},
		{"bad customer id", sb.CallFilter{CustomerID: "nope"}, nil},
		{"parent call", sb.CallFilter{ParentCallID: c1.ID}, []string{c3.ID}},
		{"callback", sb.CallFilter{CallbackID: callback}, []string{c3.ID}},
		{"callback and status", sb.CallFilter{CallbackID: callback, Status: sb.CallRinging}, nil},
		{"bad parent id", sb.CallFilter{ParentCallID: "nope"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, limit := range []int{1, 2, 10} {
				var all []*sb.Call
				f := tc.f
				f.Limit = limit
				for pages := 0; ; pages++ {
					page, next, err := db.ListCalls(ctx, account, f)
					if err != nil || pages > 5 || len(page) > limit {
						t.Fatalf("page %d: %d calls, %v", pages, len(page), err)
					}
					all = append(all, page...)
					if next == "" {
						break
					}
					f.Cursor = next
				}
				if !slices.Equal(ids(all), tc.want) {
					t.Fatalf("limit %d: %v, want %v", limit, ids(all), tc.want)
				}
			}
		})
	}
	if _, _, err := db.ListCalls(ctx, account, sb.CallFilter{Cursor: "garbage"}); sb.ErrorCode(err) != sb.EINVALID {
		t.Fatalf("bad cursor: %v", err)
	}
	for _, id := range []string{uuid.NewString(), "nope"} {
		if _, err := db.GetCall(ctx, account, id); !errors.Is(err, sb.ErrNotFound) {
			t.Fatalf("GetCall(%s): %v", id, err)
		}
	}
	if _, err := db.GetCall(ctx, other, c1.ID); !errors.Is(err, sb.ErrNotFound) {
		t.Fatalf("call of another account: %v", err)
	}
	events, err := db.CallEvents(ctx, account, c2.ID)
	if err != nil || len(events) != 1 || events[0].Status != sb.CallRinging || events[0].Sequence != 1 || events[0].CallID != c2.ID {
		t.Fatalf("events %+v, %v", events, err)
	}
	if _, err := db.CallEvents(ctx, other, c2.ID); !errors.Is(err, sb.ErrNotFound) {
		t.Fatalf("events of another account's call: %v", err)
	}
	// A call for a customer that no longer exists is ErrCustomerGone, so
	// the caller resolves again.
	if _, _, err := db.CreateCall(ctx, &sb.Call{AccountID: account, CustomerID: uuid.NewString(), Direction: sb.CallOutbound,
		Channel: sb.ChannelVoice, Provider: "sandbox"}); !errors.Is(err, sb.ErrCustomerGone) {
		t.Fatalf("call for a missing customer: %v", err)
	}
}

// jsonEqual compares JSON documents by value: jsonb normalises spacing.
func jsonEqual(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type delivery struct {
	endpoint *string
	url      string
	typ      string
	payload  []byte
}

func deliveriesOf(t *testing.T, conn *pgx.Conn, ids []string) []delivery {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT endpoint_id::text, url, event_type, payload FROM webhook_deliveries
		WHERE id = ANY($1) ORDER BY url`, ids)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (delivery, error) {
		var d delivery
		err := r.Scan(&d.endpoint, &d.url, &d.typ, &d.payload)
		return d, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestUpdateCallTransitions(t *testing.T) {
	ctx := context.Background()
	db, conn, account := customerAccount(t)
	const endpointSecret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
	subscribed, err := db.CreateEndpoint(ctx, &sb.WebhookEndpoint{AccountID: account, URL: "https://a.example/hooks",
		Events: []string{"call.queued", "call.in-progress", "call.completed"}, Secret: endpointSecret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateEndpoint(ctx, &sb.WebhookEndpoint{AccountID: account, URL: "https://b.example/hooks",
		Events: []string{"message.delivered", "customer.created"}, Secret: endpointSecret}); err != nil {
		t.Fatal(err)
	}
	const callback = "https://c.example/status"
	c, created := newCall(t, db, &sb.Call{AccountID: account, StatusCallbackURL: callback})
	if ds := deliveriesOf(t, conn, created); len(ds) != 2 || ds[0].url != subscribed.URL || ds[1].url != callback ||
		ds[0].typ != "call.queued" || ds[1].endpoint != nil {
		t.Fatalf("deliveries of call.queued: %+v", ds)
	}

	t0 := time.Date(2031, 5, 1, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		u           sb.CallUpdate
		changed     bool
		status      sb.CallStatus
		seq         int
		deliveredTo []string // sorted by url
	}{
		{sb.CallUpdate{Status: sb.CallRinging, ProviderCallID: "SB-1", At: t0.Add(-5 * time.Second)}, true, sb.CallRinging, 2, []string{callback}},
		{sb.CallUpdate{Status: sb.CallInProgress, AnsweredBy: "human", At: t0}, true, sb.CallInProgress, 3, []string{subscribed.URL, callback}},
		// a duplicate callback, then a stale one: no status change
		{sb.CallUpdate{Status: sb.CallInProgress, At: t0.Add(time.Second)}, false, sb.CallInProgress, 3, nil},
		{sb.CallUpdate{Status: sb.CallRinging, At: t0.Add(2 * time.Second)}, false, sb.CallInProgress, 3, nil},
		// an answered call cannot become busy, and a late ring timeout
		// names nobody as hanging up a call that goes on
		{sb.CallUpdate{Status: sb.CallBusy}, false, sb.CallInProgress, 3, nil},
		{sb.CallUpdate{Status: sb.CallNoAnswer, HangupBy: sb.HangupSystem}, false, sb.CallInProgress, 3, nil},
		{sb.CallUpdate{RecordingURL: "https://rec.example/1.wav", SessionID: uuid.NewString()}, false, sb.CallInProgress, 3, nil},
		{sb.CallUpdate{Status: sb.CallCompleted, HangupBy: sb.HangupCaller, At: t0.Add(65 * time.Second)}, true, sb.CallCompleted, 4,
			[]string{subscribed.URL, callback}},
		// nothing leaves a final status; the first hangup report wins
		{sb.CallUpdate{Status: sb.CallFailed, HangupBy: sb.HangupBot, ProviderCallID: "SB-2"}, false, sb.CallCompleted, 4, nil},
	}
	for i, s := range steps {
		got, changed, ids, err := db.UpdateCall(ctx, account, c.ID, s.u)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if changed != s.changed || got.Status != s.status || got.Sequence != s.seq {
			t.Fatalf("step %d: changed %v status %s seq %d, want %v %s %d", i, changed, got.Status, got.Sequence, s.changed, s.status, s.seq)
		}
		ds := deliveriesOf(t, conn, ids)
		var urls []string
		for _, d := range ds {
			urls = append(urls, d.url)
			var p struct {
				Type string          `json:"type"`
				Data json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(d.payload, &p); err != nil || p.Type != sb.CallEventType(s.status) || d.typ != p.Type {
				t.Fatalf("step %d: payload %s (%v)", i, d.payload, err)
			}
			if string(p.Data) != mustJSON(t, got) {
				t.Fatalf("step %d: payload data\n%s\nwant\n%s", i, p.Data, mustJSON(t, got))
			}
		}
		if !slices.Equal(urls, s.deliveredTo) {
			t.Fatalf("step %d: delivered to %v, want %v", i, urls, s.deliveredTo)
		}
		stored, err := db.GetCall(ctx, account, c.ID)
		if err != nil || mustJSON(t, stored) != mustJSON(t, got) {
			t.Fatalf("step %d: stored\n%s\nreturned\n%s (%v)", i, mustJSON(t, stored), mustJSON(t, got), err)
		}
	}
	final, err := db.GetCall(ctx, account, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if final.Duration != 65 || final.AnsweredAt == nil || !final.AnsweredAt.Equal(t0) || final.EndedAt == nil ||
		!final.EndedAt.Equal(t0.Add(65*time.Second)) || final.HangupBy != sb.HangupCaller || final.ProviderCallID != "SB-1" ||
		final.AnsweredBy != "human" || final.RecordingURL == "" || final.SessionID == "" {
		t.Fatalf("final %+v", final)
	}
	events, err := db.CallEvents(ctx, account, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var statuses []sb.CallStatus
	for _, e := range events {
		statuses = append(statuses, e.Status)
	}
	if want := []sb.CallStatus{sb.CallQueued, sb.CallRinging, sb.CallInProgress, sb.CallCompleted}; !slices.Equal(statuses, want) ||
		!events[3].CreatedAt.Equal(t0.Add(65*time.Second)) {
		t.Fatalf("events %+v", events)
	}

	// Status-callback deliveries are signed with the account's callback
	// secret, an endpoint's with its own.
	var all []string
	if err := conn.QueryRow(ctx, `SELECT array_agg(id::text) FROM webhook_deliveries WHERE event_type = 'call.completed'`).Scan(&all); err != nil {
		t.Fatal(err)
	}
	targets, err := db.LoadDeliveries(ctx, all)
	if err != nil || len(targets) != 2 {
		t.Fatalf("load deliveries: %d, %v", len(targets), err)
	}
	for _, d := range targets {
		want := endpointSecret
		if d.URL == callback {
			want = accountSecret
			if d.EndpointID != "" {
				t.Fatalf("callback delivery with endpoint %s", d.EndpointID)
			}
		}
		if !slices.Equal(d.Secrets, []string{want}) || !d.Enabled || !strings.Contains(string(d.Payload), `"call.completed"`) {
			t.Fatalf("delivery to %s: secrets %v, enabled %v, payload %s", d.URL, d.Secrets, d.Enabled, d.Payload)
		}
	}

	// Never answered: no duration; an explicit duration wins.
	c2, _ := newCall(t, db, &sb.Call{AccountID: account})
	got, changed, _, err := db.UpdateCall(ctx, account, c2.ID, sb.CallUpdate{Status: sb.CallNoAnswer})
	if err != nil || !changed || got.Duration != 0 || got.AnsweredAt != nil || got.EndedAt == nil {
		t.Fatalf("no-answer: %+v, %v", got, err)
	}
	c3, _ := newCall(t, db, &sb.Call{AccountID: account})
	d := 42
	if _, _, _, err := db.UpdateCall(ctx, account, c3.ID, sb.CallUpdate{Status: sb.CallInProgress}); err != nil {
		t.Fatal(err)
	}
	got, _, _, err = db.UpdateCall(ctx, account, c3.ID, sb.CallUpdate{Status: sb.CallCompleted, Duration: &d})
	if err != nil || got.Duration != 42 {
		t.Fatalf("explicit duration: %+v, %v", got, err)
	}
	for _, id := range []string{uuid.NewString(), "nope"} {
		if _, _, _, err := db.UpdateCall(ctx, account, id, sb.CallUpdate{Status: sb.CallRinging}); !errors.Is(err, sb.ErrNotFound) {
			t.Fatalf("UpdateCall(%s): %v", id, err)
		}
	}
}

func TestFindCallByProviderID(t *testing.T) {
	ctx := context.Background()
	db, conn, account := customerAccount(t)
	channel := uuid.NewString()
	if _, err := conn.Exec(ctx, `INSERT INTO channels (id, account_id, type, credentials, hook_secret) VALUES ($1, $2, 'twilio', '\x00', '\x00')`,
		channel, account); err != nil {
		t.Fatal(err)
	}
	sandbox, _ := newCall(t, db, &sb.Call{AccountID: account, ProviderCallID: "SB-1"})
	twilio, _ := newCall(t, db, &sb.Call{AccountID: account, Provider: "twilio", ChannelID: channel})
	if _, _, _, err := db.UpdateCall(ctx, account, twilio.ID, sb.CallUpdate{ProviderCallID: "CA1"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		channel, provider, want string
	}{
		{"", "SB-1", sandbox.ID},
		{channel, "CA1", twilio.ID},
		{"", "CA1", ""},
		{channel, "SB-1", ""},
		{uuid.NewString(), "CA1", ""},
		{"nope", "CA1", ""},
		{channel, "", ""},
	} {
		c, err := db.FindCallByProviderID(ctx, tc.channel, tc.provider)
		switch {
		case tc.want == "" && !errors.Is(err, sb.ErrNotFound):
			t.Errorf("Find(%q, %q): %v", tc.channel, tc.provider, err)
		case tc.want != "" && (err != nil || c.ID != tc.want):
			t.Errorf("Find(%q, %q): %v, %v", tc.channel, tc.provider, c, err)
		}
	}
	// One provider call id per channel.
	dup, _ := newCall(t, db, &sb.Call{AccountID: account, Provider: "twilio", ChannelID: channel})
	if _, _, _, err := db.UpdateCall(ctx, account, dup.ID, sb.CallUpdate{ProviderCallID: "CA1"}); sb.ErrorCode(err) != sb.ECONFLICT {
		t.Fatalf("duplicate provider call id: %v", err)
	}
	if _, _, err := db.CreateCall(ctx, &sb.Call{AccountID: account, Direction: sb.CallInbound, Channel: sb.ChannelVoice,
		Provider: "twilio", ChannelID: channel, ProviderCallID: "CA1"}); sb.ErrorCode(err) != sb.ECONFLICT {
		t.Fatalf("duplicate inbound call: %v", err)
	}
}

func newSession(t *testing.T, db *postgres.DB, s *sb.BotSession) *sb.BotSession {
	t.Helper()
	if s.Channel == "" {
		s.Channel = sb.ChannelVoice
	}
	got, err := db.CreateSession(context.Background(), s)
	if err != nil {
		t.Fatalf("create session: %v", err)
	}
	return got
}

// TestUpdateSessionSerialises: two updaters incrementing a counter in the
// session's state lose no update.
func TestUpdateSessionSerialises(t *testing.T) {
	ctx := context.Background()
	db, _, account := customerAccount(t)
	flow := createFlow(t, db, account, "ivr")
	s := newSession(t, db, &sb.BotSession{AccountID: account, FlowID: flow.ID, FlowVersion: 1, Address: "+79990000100",
		Sender: "+15005550000", ResumeOn: []sb.Channel{sb.ChannelSMS, sb.ChannelTelegram}, State: json.RawMessage(`{"n":0}`)})
	if s.Status != sb.SessionActive || s.Seq != 1 || s.ID == "" || len(s.ResumeOn) != 2 {
		t.Fatalf("created %+v", s)
	}
	if got, err := db.GetSession(ctx, account, s.ID); err != nil || !sessionsEqual(got, s) {
		t.Fatalf("read back %+v, %v", got, err)
	}
	const workers, each = 2, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				_, err := db.UpdateSession(ctx, account, s.ID, func(s *sb.BotSession) error {
					var st struct{ N int }
					if err := json.Unmarshal(s.State, &st); err != nil {
						return err
					}
					time.Sleep(time.Millisecond) // widen the window a lost update would need
					st.N++
					s.State = json.RawMessage(fmt.Sprintf(`{"n":%d}`, st.N))
					return nil
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := db.GetSession(ctx, account, s.ID)
	if err != nil || string(got.State) != fmt.Sprintf(`{"n": %d}`, workers*each) || got.Seq != 1+workers*each {
		t.Fatalf("after %d updates: state %s seq %d, %v", workers*each, got.State, got.Seq, err)
	}

	// Every mutable field is saved; an error from fn saves nothing.
	callID := uuid.NewString()
	m := mustInteract(t, db, account, sb.ChannelTelegram, "4242", sb.Inbound)
	upd, err := db.UpdateSession(ctx, account, s.ID, func(s *sb.BotSession) error {
		s.FlowVersion, s.CallID, s.Channel, s.Address, s.Sender = 2, callID, sb.ChannelTelegram, "4242", "switchboard_bot"
		s.Status, s.ResumeOn, s.ConversationID = sb.SessionWaiting, nil, m.ConversationID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if upd.FlowVersion != 2 || upd.CallID != callID || upd.Channel != sb.ChannelTelegram || upd.Address != "4242" ||
		upd.Sender != "switchboard_bot" || upd.Status != sb.SessionWaiting || upd.ResumeOn != nil || upd.ConversationID != m.ConversationID ||
		upd.Seq != got.Seq+1 || !upd.UpdatedAt.After(got.UpdatedAt) {
		t.Fatalf("updated %+v", upd)
	}
	if reread, err := db.GetSession(ctx, account, s.ID); err != nil || !sessionsEqual(reread, upd) {
		t.Fatalf("read back %+v, %v", reread, err)
	}
	boom := errors.New("boom")
	if _, err := db.UpdateSession(ctx, account, s.ID, func(s *sb.BotSession) error {
		s.Status = sb.SessionEnded
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("fn error: %v", err)
	}
	if reread, err := db.GetSession(ctx, account, s.ID); err != nil || reread.Status != sb.SessionWaiting || reread.Seq != upd.Seq {
		t.Fatalf("after a failed update: %+v, %v", reread, err)
	}
	for _, id := range []string{uuid.NewString(), "nope"} {
		if _, err := db.UpdateSession(ctx, account, id, func(*sb.BotSession) error { return nil }); !errors.Is(err, sb.ErrNotFound) {
			t.Fatalf("UpdateSession(%s): %v", id, err)
		}
		if _, err := db.GetSession(ctx, account, id); !errors.Is(err, sb.ErrNotFound) {
			t.Fatalf("GetSession(%s): %v", id, err)
		}
	}
}

func sessionsEqual(a, b *sb.BotSession) bool {
	a2, b2 := *a, *b
	a2.State, b2.State = nil, nil
	return fmt.Sprintf("%+v", a2) == fmt.Sprintf("%+v", b2)
}

func TestOpenSession(t *testing.T) {
	ctx := context.Background()
	db, _, account := customerAccount(t)
	m := mustInteract(t, db, account, sb.ChannelSMS, "+79990000101", sb.Inbound)
	base := sb.BotSession{AccountID: account, CustomerID: m.CustomerID, ConversationID: m.ConversationID, Channel: sb.ChannelSMS}
	if _, err := db.OpenSession(ctx, account, m.ConversationID); !errors.Is(err, sb.ErrNotFound) {
		t.Fatalf("no session yet: %v", err)
	}
	s1 := base
	s1.Status = sb.SessionSuspended
	first := newSession(t, db, &s1)
	s2 := base
	s2.Status = sb.SessionWaiting
	second := newSession(t, db, &s2)
	s3 := base
	s3.Status = sb.SessionEnded
	newSession(t, db, &s3)
	open, err := db.OpenSession(ctx, account, m.ConversationID)
	if err != nil || open.ID != second.ID {
		t.Fatalf("open session: %+v, %v (want %s)", open, err, second.ID)
	}
	if _, err := db.UpdateSession(ctx, account, second.ID, func(s *sb.BotSession) error { s.Status = sb.SessionEnded; return nil }); err != nil {
		t.Fatal(err)
	}
	if open, err := db.OpenSession(ctx, account, m.ConversationID); err != nil || open.ID != first.ID {
		t.Fatalf("after ending the newest: %+v, %v", open, err)
	}
	other, _, err := db.CreateAccount(ctx, "other", accountSecret)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range [][2]string{{other, m.ConversationID}, {account, uuid.NewString()}, {account, "nope"}} {
		if _, err := db.OpenSession(ctx, tc[0], tc[1]); !errors.Is(err, sb.ErrNotFound) {
			t.Fatalf("OpenSession(%v): %v", tc, err)
		}
	}
}

func TestTranscriptOrder(t *testing.T) {
	ctx := context.Background()
	db, _, account := customerAccount(t)
	m := mustInteract(t, db, account, sb.ChannelSMS, "+79990000102", sb.Inbound)
	call, _ := newCall(t, db, &sb.Call{AccountID: account, CustomerID: m.CustomerID, ConversationID: m.ConversationID})
	s := newSession(t, db, &sb.BotSession{AccountID: account, CustomerID: m.CustomerID, ConversationID: m.ConversationID, CallID: call.ID})
	entry := func(i int, callID string, ch sb.Channel) sb.TranscriptEntry {
		role := sb.RoleBot
		if i%2 == 1 {
			role = sb.RoleCaller
		}
		return sb.TranscriptEntry{AccountID: account, SessionID: s.ID, CallID: callID, CustomerID: m.CustomerID,
			ConversationID: m.ConversationID, Channel: ch, Role: role, Kind: "say", Text: fmt.Sprint(i), StepID: "step" + fmt.Sprint(i)}
	}
	var batch []sb.TranscriptEntry
	for i := range 40 {
		batch = append(batch, entry(i, call.ID, sb.ChannelVoice))
	}
	if err := db.AppendTranscript(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for i, e := range batch {
		if e.ID == "" || e.CreatedAt.IsZero() || (i > 0 && e.ID <= batch[i-1].ID) {
			t.Fatalf("entry %d: id %q after %q", i, e.ID, batch[max(i-1, 0)].ID)
		}
	}
	// The session carries on as a chat.
	chat := []sb.TranscriptEntry{entry(40, "", sb.ChannelSMS), entry(41, "", sb.ChannelSMS)}
	if err := db.AppendTranscript(ctx, chat); err != nil {
		t.Fatal(err)
	}
	if err := db.AppendTranscript(ctx, nil); err != nil {
		t.Fatal(err)
	}
	texts := func(es []sb.TranscriptEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Text)
		}
		return out
	}
	want := func(from, to int) []string {
		var out []string
		for i := from; i < to; i++ {
			out = append(out, fmt.Sprint(i))
		}
		return out
	}
	got, err := db.CallTranscript(ctx, account, call.ID)
	if err != nil || !slices.Equal(texts(got), want(0, 40)) {
		t.Fatalf("call transcript %v, %v", texts(got), err)
	}
	if g, w := mustJSON(t, got[0]), mustJSON(t, batch[0]); g != w || got[1].Role != sb.RoleCaller || got[1].StepID != "step1" ||
		got[0].CustomerID != m.CustomerID || got[0].AccountID != account {
		t.Fatalf("entry read back\n%s\nwant\n%s", g, w)
	}
	got, err = db.SessionTranscript(ctx, account, s.ID)
	if err != nil || !slices.Equal(texts(got), want(0, 42)) || got[41].CallID != "" || got[41].Channel != sb.ChannelSMS {
		t.Fatalf("session transcript %v, %v", texts(got), err)
	}
	quiet, _ := newCall(t, db, &sb.Call{AccountID: account})
	if got, err := db.CallTranscript(ctx, account, quiet.ID); err != nil || len(got) != 0 {
		t.Fatalf("transcript of a silent call: %v, %v", got, err)
	}
	for _, id := range []string{uuid.NewString(), "nope"} {
		if _, err := db.CallTranscript(ctx, account, id); !errors.Is(err, sb.ErrNotFound) {
			t.Fatalf("CallTranscript(%s): %v", id, err)
		}
		if _, err := db.SessionTranscript(ctx, account, id); !errors.Is(err, sb.ErrNotFound) {
			t.Fatalf("SessionTranscript(%s): %v", id, err)
		}
	}
	if err := db.AppendTranscript(ctx, []sb.TranscriptEntry{{AccountID: account, SessionID: "nope", Channel: sb.ChannelSMS}}); err == nil {
		t.Fatal("an entry with a bad session id was stored")
	}
}

// TestTimelineWithCalls: calls and transcript entries take their place
// among messages and events in id order.
func TestTimelineWithCalls(t *testing.T) {
	ctx := context.Background()
	db, _, account := customerAccount(t)
	const addr = "+79990000103"
	m1 := mustInteract(t, db, account, sb.ChannelSMS, addr, sb.Inbound) // customer.created, conversation.opened, message
	call, _ := newCall(t, db, &sb.Call{AccountID: account, CustomerID: m1.CustomerID, ConversationID: m1.ConversationID, To: addr})
	s := newSession(t, db, &sb.BotSession{AccountID: account, CustomerID: m1.CustomerID, ConversationID: m1.ConversationID, CallID: call.ID})
	say := func(text, callID string) {
		t.Helper()
		if err := db.AppendTranscript(ctx, []sb.TranscriptEntry{{AccountID: account, SessionID: s.ID, CallID: callID,
			CustomerID: m1.CustomerID, ConversationID: m1.ConversationID, Channel: sb.ChannelVoice, Role: sb.RoleBot, Kind: "say", Text: text}}); err != nil {
			t.Fatal(err)
		}
	}
	say("hello", call.ID)
	say("press 1", call.ID)
	mustInteract(t, db, account, sb.ChannelSMS, addr, sb.Outbound)
	say("1", "")
	// Someone else's call stays off the timeline.
	other := mustInteract(t, db, account, sb.ChannelSMS, "+79990000104", sb.Inbound)
	newCall(t, db, &sb.Call{AccountID: account, CustomerID: other.CustomerID})

	all, next, err := db.Timeline(ctx, account, m1.CustomerID, "", 100)
	if err != nil || next != "" {
		t.Fatalf("timeline: %v, next %q", err, next)
	}
	var kinds []string
	for _, e := range all {
		switch e.Type {
		case "event":
			kinds = append(kinds, e.Event.Type)
		case "message":
			kinds = append(kinds, "message")
		case "call":
			if e.Call == nil || e.Call.ID != call.ID || e.ID != call.ID || !e.At.Equal(call.CreatedAt) {
				t.Fatalf("call entry %+v", e)
			}
			kinds = append(kinds, "call")
		case "transcript":
			if e.Transcript == nil || e.Transcript.ID != e.ID {
				t.Fatalf("transcript entry %+v", e)
			}
			kinds = append(kinds, "transcript:"+e.Transcript.Text)
		default:
			t.Fatalf("entry %+v", e)
		}
	}
	slices.Reverse(kinds)
	want := []string{"customer.created", "conversation.opened", "message", "call", "transcript:hello", "transcript:press 1", "message", "transcript:1"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("timeline, oldest first:\n%v\nwant\n%v", kinds, want)
	}
	if !slices.IsSortedFunc(all, func(a, b sb.TimelineEntry) int { return strings.Compare(b.ID, a.ID) }) {
		t.Fatal("timeline not newest first")
	}
	for _, limit := range []int{1, 2, 3, 7, 8} {
		var got []sb.TimelineEntry
		cursor := ""
		for pages := 0; ; pages++ {
			page, next, err := db.Timeline(ctx, account, m1.CustomerID, cursor, limit)
			if err != nil || len(page) > limit || pages > 10 {
				t.Fatalf("limit %d: page of %d, %v", limit, len(page), err)
			}
			got = append(got, page...)
			if next == "" {
				break
			}
			cursor = next
		}
		if !slices.EqualFunc(got, all, func(a, b sb.TimelineEntry) bool { return a.ID == b.ID }) {
			t.Fatalf("limit %d: pages hold %d entries, not the %d of the timeline", limit, len(got), len(all))
		}
	}
	// The API shape of the new entries.
	for _, e := range all {
		b := mustJSON(t, e)
		switch e.Type {
		case "call":
			if !strings.HasPrefix(b, `{"type":"call","id":"`+call.ID+`","at":`) || !strings.Contains(b, `"call":{"id":"`+call.ID+`"`) {
				t.Fatalf("call entry JSON %s", b)
			}
		case "transcript":
			if !strings.HasPrefix(b, `{"type":"transcript","id":"`+e.ID+`","at":`) || !strings.Contains(b, `"transcript":{"id":"`+e.ID+`"`) ||
				strings.Contains(b, `"message"`) || strings.Contains(b, `"call":`) {
				t.Fatalf("transcript entry JSON %s", b)
			}
		}
	}
}

// TestDeleteAndMergeWithCalls: a merge moves calls, sessions and
// transcripts to the survivor; a delete detaches them.
func TestDeleteAndMergeWithCalls(t *testing.T) {
	ctx := context.Background()
	db, conn, account := customerAccount(t)
	type voice struct {
		call    *sb.Call
		session *sb.BotSession
	}
	seed := func(addr string) (*sb.Message, voice) {
		m := mustInteract(t, db, account, sb.ChannelSMS, addr, sb.Inbound)
		c, _ := newCall(t, db, &sb.Call{AccountID: account, CustomerID: m.CustomerID, ConversationID: m.ConversationID, To: addr})
		s := newSession(t, db, &sb.BotSession{AccountID: account, CustomerID: m.CustomerID, ConversationID: m.ConversationID,
			CallID: c.ID, Status: sb.SessionSuspended})
		if err := db.AppendTranscript(ctx, []sb.TranscriptEntry{{AccountID: account, SessionID: s.ID, CallID: c.ID, CustomerID: m.CustomerID,
			ConversationID: m.ConversationID, Channel: sb.ChannelVoice, Role: sb.RoleBot, Kind: "say", Text: addr}}); err != nil {
			t.Fatal(err)
		}
		return m, voice{c, s}
	}
	into, intoVoice := seed("+79990000105")
	from, fromVoice := seed("+79990000106")
	if _, _, err := db.MergeCustomers(ctx, account, into.CustomerID, from.CustomerID); err != nil {
		t.Fatal(err)
	}
	for _, v := range []voice{intoVoice, fromVoice} {
		c, err := db.GetCall(ctx, account, v.call.ID)
		if err != nil || c.CustomerID != into.CustomerID || c.ConversationID == "" {
			t.Fatalf("call after merge: %+v, %v", c, err)
		}
		s, err := db.GetSession(ctx, account, v.session.ID)
		if err != nil || s.CustomerID != into.CustomerID {
			t.Fatalf("session after merge: %+v, %v", s, err)
		}
		tr, err := db.CallTranscript(ctx, account, v.call.ID)
		if err != nil || len(tr) != 1 || tr[0].CustomerID != into.CustomerID {
			t.Fatalf("transcript after merge: %+v, %v", tr, err)
		}
	}
	calls, _, err := db.ListCalls(ctx, account, sb.CallFilter{CustomerID: from.CustomerID, Limit: 10}) // the old id forwards
	if err != nil || len(calls) != 2 {
		t.Fatalf("calls through the merged id: %d, %v", len(calls), err)
	}
	tl, _, err := db.Timeline(ctx, account, into.CustomerID, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range tl {
		count[e.Type]++
	}
	if count["call"] != 2 || count["transcript"] != 2 {
		t.Fatalf("survivor's timeline: %v", count)
	}
	// A transcript written for the merged-away id lands on the survivor.
	if err := db.AppendTranscript(ctx, []sb.TranscriptEntry{{AccountID: account, SessionID: fromVoice.session.ID, CallID: fromVoice.call.ID,
		CustomerID: from.CustomerID, ConversationID: from.ConversationID, Channel: sb.ChannelVoice, Role: sb.RoleCaller, Kind: "dtmf", Text: "1"}}); err != nil {
		t.Fatal(err)
	}
	if tr, err := db.CallTranscript(ctx, account, fromVoice.call.ID); err != nil || len(tr) != 2 || tr[1].CustomerID != into.CustomerID {
		t.Fatalf("transcript for the old id: %+v, %v", tr, err)
	}

	if err := db.DeleteCustomer(ctx, account, into.CustomerID); err != nil {
		t.Fatal(err)
	}
	for _, v := range []voice{intoVoice, fromVoice} {
		c, err := db.GetCall(ctx, account, v.call.ID)
		if err != nil || c.CustomerID != "" || c.ConversationID != "" {
			t.Fatalf("call after delete: %+v, %v", c, err)
		}
		s, err := db.GetSession(ctx, account, v.session.ID)
		if err != nil || s.CustomerID != "" || s.ConversationID != "" {
			t.Fatalf("session after delete: %+v, %v", s, err)
		}
		tr, err := db.CallTranscript(ctx, account, v.call.ID)
		if err != nil || len(tr) == 0 || tr[0].CustomerID != "" || tr[0].ConversationID != "" {
			t.Fatalf("transcript after delete: %+v, %v", tr, err)
		}
	}
	// A session still running for the deleted customer keeps writing, detached.
	if err := db.AppendTranscript(ctx, []sb.TranscriptEntry{{AccountID: account, SessionID: intoVoice.session.ID, CallID: intoVoice.call.ID,
		CustomerID: into.CustomerID, ConversationID: into.ConversationID, Channel: sb.ChannelVoice, Role: sb.RoleBot, Kind: "say", Text: "bye"}}); err != nil {
		t.Fatal(err)
	}
	var attached int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM transcript_entries WHERE customer_id IS NOT NULL OR conversation_id IS NOT NULL`).Scan(&attached); err != nil || attached != 0 {
		t.Fatalf("%d transcript entries still attached, %v", attached, err)
	}
	if _, err := db.UpdateSession(ctx, account, intoVoice.session.ID, func(s *sb.BotSession) error { s.Status = sb.SessionEnded; return nil }); err != nil {
		t.Fatalf("update a detached session: %v", err)
	}
}

// TestTimelineVoicePlan checks that the timeline reads calls and
// transcript entries through their (customer_id, id DESC) indexes, like
// messages and events, so a page costs the same however long the history.
func TestTimelineVoicePlan(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 40,000 rows")
	}
	ctx := context.Background()
	db, conn, account := customerAccount(t)
	var customers []string
	for range 20 {
		customers = append(customers, createCustomer(t, db, &sb.Customer{AccountID: account}).ID)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO calls (id, account_id, customer_id, direction, channel, from_addr, to_addr, status)
		SELECT gen_random_uuid(), $1, c, 'outbound', 'voice', '+15005550000', '+79990000000', 'completed'
		FROM unnest($2::uuid[]) AS c, generate_series(1, 1000)`, account, customers); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO transcript_entries (id, account_id, session_id, customer_id, channel, role, kind, text)
		SELECT gen_random_uuid(), $1, gen_random_uuid(), c, 'voice', 'bot', 'say', 'hi'
		FROM unnest($2::uuid[]) AS c, generate_series(1, 1000)`, account, customers); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `ANALYZE calls; ANALYZE transcript_entries`); err != nil {
		t.Fatal(err)
	}
	if page, _, err := db.Timeline(ctx, account, customers[0], "", 20); err != nil || len(page) != 20 {
		t.Fatalf("page of %d, %v", len(page), err)
	}
	plan, err := db.ExplainTimeline(ctx, account, customers[0], 20)
	if err != nil {
		t.Fatal(err)
	}
	for _, index := range []string{"calls_customer", "transcript_entries_customer"} {
		if !strings.Contains(plan, index) {
			t.Errorf("the timeline does not use index %s:\n%s", index, plan)
		}
	}
	if strings.Contains(plan, "Sort") {
		t.Errorf("the timeline sorts:\n%s", plan)
	}
}
