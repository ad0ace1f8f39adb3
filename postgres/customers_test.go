package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/postgres"
	"github.com/switchboardhq/switchboard/routing"
	"github.com/switchboardhq/switchboard/testenv"
)

// customerAccount opens a fresh database and creates an account in it. It
// returns a plain connection too, for checks the store has no method for.
func customerAccount(t testing.TB) (*postgres.DB, *pgx.Conn, string) {
	t.Helper()
	ctx := context.Background()
	url := testenv.DatabaseURL(t)
	db, err := postgres.Open(ctx, url, 16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	account, _, err := db.CreateAccount(ctx, "t", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	return db, conn, account
}

// interact attaches one message on (ch, address) to its customer and
// conversation the way the API does: attach, insert, and start over
// when a concurrent merge removed the customer in between.
func interact(ctx context.Context, db *postgres.DB, account string, ch sb.Channel, address string, dir sb.Direction) (*sb.Message, error) {
	m := &sb.Message{AccountID: account, Channel: ch, Direction: dir, Text: "hi", Provider: "sandbox"}
	ours := "+15005550000"
	if !ch.UsesPhoneNumbers() {
		ours = "switchboard_bot"
	}
	if dir == sb.Inbound {
		m.From, m.To, m.Status = address, ours, sb.StatusReceived
	} else {
		m.From, m.To, m.Status = ours, address, sb.StatusAccepted
	}
	err := routing.Retry(ctx, func() error {
		res, j, err := db.Attach(ctx, routing.AttachRequest{AccountID: account, Channel: ch, Address: address,
			Direction: dir, InboundTo: ours, At: time.Now(), Idle: 24 * time.Hour})
		if err != nil {
			return err
		}
		// The id is minted after routing, so the message sorts after the
		// conversation.opened event it caused.
		m.ID, m.CustomerID, m.ConversationID = uuid.Must(uuid.NewV7()).String(), res.CustomerID, j.ConversationID
		_, _, _, err = db.CreateMessage(ctx, m, nil, nil)
		if errors.Is(err, sb.ErrCustomerGone) {
			goneRetries.Add(1)
		}
		return err
	})
	return m, err
}

// goneRetries counts the inserts interact had to redo after a merge.
var goneRetries atomic.Int64

func mustInteract(t *testing.T, db *postgres.DB, account string, ch sb.Channel, address string, dir sb.Direction) *sb.Message {
	t.Helper()
	m, err := interact(context.Background(), db, account, ch, address, dir)
	if err != nil {
		t.Fatalf("interact %s:%s: %v", ch, address, err)
	}
	return m
}

func createCustomer(t *testing.T, db *postgres.DB, c *sb.Customer) *sb.Customer {
	t.Helper()
	got, _, err := db.CreateCustomer(context.Background(), c)
	if err != nil {
		t.Fatalf("create customer: %v", err)
	}
	return got
}

func errCode(err error) string { return sb.ErrorCode(err) }

// TestFirstContactConcurrent: forty first contacts from one number on two
// phone channels at once make one customer with two identities and one
// customer.created event.
func TestFirstContactConcurrent(t *testing.T) {
	ctx := context.Background()
	db, conn, account := customerAccount(t)
	const number = "+79991234567"
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make([]sb.Resolution, 40)
	errs := make([]error, 40)
	for i := range 40 {
		ch := sb.ChannelSMS
		if i%2 == 1 {
			ch = sb.ChannelWhatsApp
		}
		wg.Go(func() {
			<-start
			results[i], errs[i] = db.ResolveIdentity(ctx, account, ch, number)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("resolve %d: %v", i, err)
		}
		if results[i].CustomerID != results[0].CustomerID {
			t.Fatalf("resolve %d got customer %s, resolve 0 got %s", i, results[i].CustomerID, results[0].CustomerID)
		}
	}
	var customers, identities, created int
	conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM customers WHERE account_id = $1),
		(SELECT count(*) FROM identities WHERE account_id = $1),
		(SELECT count(*) FROM customer_events WHERE account_id = $1 AND type = 'customer.created')`, account).Scan(&customers, &identities, &created)
	if customers != 1 || identities != 2 || created != 1 {
		t.Fatalf("%d customers, %d identities, %d customer.created events; want 1, 2, 1", customers, identities, created)
	}
	c, err := db.GetCustomer(ctx, account, results[0].CustomerID)
	if err != nil {
		t.Fatal(err)
	}
	var chans []sb.Channel
	for _, id := range c.Identities {
		chans = append(chans, id.Channel)
	}
	slices.Sort(chans)
	if !slices.Equal(chans, []sb.Channel{sb.ChannelSMS, sb.ChannelWhatsApp}) {
		t.Fatalf("identities on %v", chans)
	}
}

// TestMergeUnderConcurrentTraffic merges B into A while messages keep
// arriving for B's identity, and checks that every one of them ends up on
// A: in-flight inserts are moved, later ones re-resolve to A.
func TestMergeUnderConcurrentTraffic(t *testing.T) {
	ctx := context.Background()
	db, conn, account := customerAccount(t)
	const addrA, addrB = "+79990000001", "+79990000002"
	a := createCustomer(t, db, &sb.Customer{AccountID: account, Name: "Anna",
		Identities: []sb.Identity{{Channel: sb.ChannelSMS, Address: addrA}}})
	b := createCustomer(t, db, &sb.Customer{AccountID: account, Email: "anna@example.com", Timezone: "Europe/Moscow",
		Attributes: json.RawMessage(`{"tier":"gold","plan":"basic"}`),
		Identities: []sb.Identity{{Channel: sb.ChannelSMS, Address: addrB}, {Channel: sb.ChannelTelegram, Address: "4242"}}})
	if _, err := db.UpdateCustomer(ctx, account, a.ID, sb.CustomerUpdate{Attributes: json.RawMessage(`{"plan":"pro"}`)}); err != nil {
		t.Fatal(err)
	}
	// Both have an open conversation: B's must close when it moves.
	mustInteract(t, db, account, sb.ChannelSMS, addrA, sb.Inbound)
	mustInteract(t, db, account, sb.ChannelSMS, addrB, sb.Inbound)

	const writers = 8
	var (
		mu      sync.Mutex
		created []string
		count   atomic.Int64
		stop    = make(chan struct{})
		wg      sync.WaitGroup
		failed  = make(chan error, writers)
	)
	for w := range writers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				dir := sb.Inbound
				if (w+i)%2 == 0 {
					dir = sb.Outbound
				}
				m, err := interact(ctx, db, account, sb.ChannelSMS, addrB, dir)
				if err != nil {
					failed <- err
					return
				}
				mu.Lock()
				created = append(created, m.ID)
				mu.Unlock()
				count.Add(1)
			}
		})
	}
	waitCount := func(n int64) {
		deadline := time.Now().Add(30 * time.Second)
		for count.Load() < n {
			select {
			case err := <-failed:
				t.Fatalf("writer: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %d messages written", count.Load())
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitCount(100)
	retriesBefore := goneRetries.Load()
	merged, _, err := db.MergeCustomers(ctx, account, a.ID, b.ID)
	if err != nil {
		t.Fatalf("merge: %v", err)
	}
	atMerge := count.Load()
	waitCount(atMerge + 100)
	close(stop)
	wg.Wait()
	select {
	case err := <-failed:
		t.Fatalf("writer: %v", err)
	default:
	}
	t.Logf("%d messages written, %d of them after the merge returned; %d inserts failed with ErrCustomerGone and re-resolved",
		len(created), int64(len(created))-atMerge, goneRetries.Load()-retriesBefore)

	// Every message exists and belongs to A.
	var onA, other int
	if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE customer_id = $2), count(*) FILTER (WHERE customer_id IS DISTINCT FROM $2)
		FROM messages WHERE id = ANY($1::uuid[])`, created, a.ID).Scan(&onA, &other); err != nil {
		t.Fatal(err)
	}
	if onA != len(created) || other != 0 {
		t.Fatalf("of %d messages %d are on A and %d elsewhere or missing", len(created), onA, other)
	}
	var strays int
	conn.QueryRow(ctx, `SELECT count(*) FROM messages WHERE account_id = $1 AND (customer_id IS NULL OR customer_id = $2)`, account, b.ID).Scan(&strays)
	if strays != 0 {
		t.Fatalf("%d messages without a customer or on B", strays)
	}
	for _, q := range []string{
		`SELECT count(*) FROM customers WHERE id = $1`,
		`SELECT count(*) FROM identities WHERE customer_id = $1`,
		`SELECT count(*) FROM conversations WHERE customer_id = $1`,
		`SELECT count(*) FROM customer_events WHERE customer_id = $1`,
	} {
		var n int
		if conn.QueryRow(ctx, q, b.ID).Scan(&n); n != 0 {
			t.Fatalf("%s: %d rows still on B", q, n)
		}
	}

	// The survivor: B's identities, A's profile with B's gaps filled.
	if len(merged.Identities) != 3 || merged.Name != "Anna" || merged.Email != "anna@example.com" || merged.Timezone != "Europe/Moscow" {
		t.Fatalf("merged customer %+v", merged)
	}
	var attrs map[string]string
	json.Unmarshal(merged.Attributes, &attrs)
	if attrs["plan"] != "pro" || attrs["tier"] != "gold" {
		t.Fatalf("attributes %s: A's keys win, B's fill in", merged.Attributes)
	}
	got, err := db.GetCustomer(ctx, account, b.ID)
	if err != nil || got.ID != a.ID {
		t.Fatalf("GetCustomer(B) = %v, %v; want A", got, err)
	}
	again, deliveries, err := db.MergeCustomers(ctx, account, a.ID, b.ID)
	if err != nil || again.ID != a.ID || len(deliveries) != 0 {
		t.Fatalf("repeated merge: %v, %v, %v", again, deliveries, err)
	}
	var open, mergedEvents, closedMerged int
	conn.QueryRow(ctx, `SELECT count(*) FROM conversations WHERE customer_id = $1 AND status = 'open'`, a.ID).Scan(&open)
	conn.QueryRow(ctx, `SELECT count(*) FROM customer_events WHERE customer_id = $1 AND type = 'customer.merged'
		AND data = jsonb_build_object('from_customer_id', $2::text, 'into_customer_id', $1::text)`, a.ID, b.ID).Scan(&mergedEvents)
	conn.QueryRow(ctx, `SELECT count(*) FROM conversations WHERE customer_id = $1 AND closed_reason = 'merged'`, a.ID).Scan(&closedMerged)
	if open != 1 || mergedEvents != 1 || closedMerged != 1 {
		t.Fatalf("A has %d open conversations, %d customer.merged events, %d conversations closed by the merge; want 1, 1, 1", open, mergedEvents, closedMerged)
	}
}

// waitForLockWait polls until a backend of this database waits on a lock
// while running a statement that starts with prefix.
func waitForLockWait(t *testing.T, conn *pgx.Conn, prefix string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND ltrim(query) LIKE $1 || '%'`, prefix).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no statement %q waits on a lock", prefix)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestMergeWaitsForInFlightInserts pins down, step by step, the two cases
// TestMergeUnderConcurrentTraffic leaves to timing: a message insert that
// is in flight when the merge starts is waited for and moved; one that
// starts while the merge holds its locks waits and then fails with
// sb.ErrCustomerGone, and resolving again lands it on the survivor.
func TestMergeWaitsForInFlightInserts(t *testing.T) {
	ctx := context.Background()
	db, conn, account := customerAccount(t)
	other := func() *pgx.Conn {
		c, err := pgx.Connect(ctx, conn.Config().ConnString())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c
	}()
	insert := func(q interface {
		Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	}, customerID string) string {
		id := uuid.Must(uuid.NewV7()).String()
		if _, err := q.Exec(ctx, `INSERT INTO messages (id, account_id, channel, direction, from_addr, to_addr, body, status, customer_id)
			VALUES ($1, $2, 'sms', 'inbound', '+79990000002', '+15005550000', 'in flight', 'received', $3)`, id, account, customerID); err != nil {
			t.Fatal(err)
		}
		return id
	}
	customerOf := func(id string) string {
		var c *string
		conn.QueryRow(ctx, `SELECT customer_id::text FROM messages WHERE id = $1`, id).Scan(&c)
		if c == nil {
			return ""
		}
		return *c
	}

	t.Run("in flight before the merge is moved", func(t *testing.T) {
		a := createCustomer(t, db, &sb.Customer{AccountID: account})
		b := createCustomer(t, db, &sb.Customer{AccountID: account})
		tx, err := other.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		id := insert(tx, b.ID) // holds a key-share lock on B until commit
		done := make(chan error, 1)
		go func() { _, _, err := db.MergeCustomers(ctx, account, a.ID, b.ID); done <- err }()
		waitForLockWait(t, conn, "SELECT id::text FROM customers")
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := customerOf(id); got != a.ID {
			t.Fatalf("in-flight message on %q, want A %s", got, a.ID)
		}
	})

	t.Run("started during the merge fails and re-resolves", func(t *testing.T) {
		const addrB = "+79990000003"
		a := createCustomer(t, db, &sb.Customer{AccountID: account})
		b := createCustomer(t, db, &sb.Customer{AccountID: account, Identities: []sb.Identity{{Channel: sb.ChannelSMS, Address: addrB}}})
		mustInteract(t, db, account, sb.ChannelSMS, addrB, sb.Inbound)
		// Hold B's conversation so that the merge stops halfway, with both
		// customers locked.
		tx, err := other.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, `SELECT 1 FROM conversations WHERE customer_id = $1 FOR UPDATE`, b.ID); err != nil {
			t.Fatal(err)
		}
		merged := make(chan error, 1)
		go func() { _, _, err := db.MergeCustomers(ctx, account, a.ID, b.ID); merged <- err }()
		waitForLockWait(t, conn, "UPDATE conversations")
		// Resolved to B just before the merge: the insert waits on B's row.
		m := &sb.Message{ID: uuid.Must(uuid.NewV7()).String(), AccountID: account, Channel: sb.ChannelSMS, Direction: sb.Inbound,
			From: addrB, To: "+15005550000", Text: "late", Status: sb.StatusReceived, Provider: "sandbox", CustomerID: b.ID}
		inserted := make(chan error, 1)
		go func() { _, _, _, err := db.CreateMessage(ctx, m, nil, nil); inserted <- err }()
		waitForLockWait(t, conn, "WITH upd AS")
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-merged; err != nil {
			t.Fatal(err)
		}
		if err := <-inserted; !errors.Is(err, sb.ErrCustomerGone) {
			t.Fatalf("insert for the merged-away customer: %v, want ErrCustomerGone", err)
		}
		again := mustInteract(t, db, account, sb.ChannelSMS, addrB, sb.Inbound)
		if again.CustomerID != a.ID {
			t.Fatalf("re-resolved to %s, want A %s", again.CustomerID, a.ID)
		}
	})
}

// TestMergeCustomersErrors covers the answers a merge gives besides doing it.
func TestMergeCustomersErrors(t *testing.T) {
	ctx := context.Background()
	db, _, account := customerAccount(t)
	a := createCustomer(t, db, &sb.Customer{AccountID: account})
	b := createCustomer(t, db, &sb.Customer{AccountID: account})
	c := createCustomer(t, db, &sb.Customer{AccountID: account})
	if _, _, err := db.MergeCustomers(ctx, account, a.ID, b.ID); err != nil {
		t.Fatal(err)
	}
	// A into C: the forwarding B → A follows to C.
	if _, _, err := db.MergeCustomers(ctx, account, c.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := db.GetCustomer(ctx, account, b.ID); err != nil || got.ID != c.ID {
		t.Fatalf("GetCustomer(B) after B→A→C = %v, %v; want C", got, err)
	}
	other, _, _ := db.CreateAccount(ctx, "other", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	d := createCustomer(t, db, &sb.Customer{AccountID: account})
	tests := []struct {
		name           string
		account        string
		into, from     string
		code, survivor string
	}{
		{"same customer", account, c.ID, c.ID, sb.EINVALID, ""},
		{"repeat", account, c.ID, a.ID, "", c.ID},
		{"repeat through an old id", account, a.ID, b.ID, "", c.ID},
		{"merged into another", account, d.ID, b.ID, sb.EEXISTS, ""},
		{"unknown from", account, c.ID, uuid.NewString(), sb.ENOTFOUND, ""},
		{"malformed from", account, c.ID, "nope", sb.ENOTFOUND, ""},
		{"unknown into", account, uuid.NewString(), d.ID, sb.ENOTFOUND, ""},
		{"other account", other, c.ID, d.ID, sb.ENOTFOUND, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := db.MergeCustomers(ctx, tt.account, tt.into, tt.from)
			if errCode(err) != tt.code {
				t.Fatalf("error %v, want code %q", err, tt.code)
			}
			if tt.survivor != "" && (got == nil || got.ID != tt.survivor) {
				t.Fatalf("survivor %+v, want %s", got, tt.survivor)
			}
		})
	}
	if _, err := db.GetCustomer(ctx, account, d.ID); err != nil {
		t.Fatalf("D must be untouched: %v", err)
	}
}

// TestCustomerCRUD creates, reads, lists, updates and deletes customers and
// their identities.
func TestCustomerCRUD(t *testing.T) {
	ctx := context.Background()
	db, conn, account := customerAccount(t)
	c := createCustomer(t, db, &sb.Customer{AccountID: account, Name: "Ivan", Email: "ivan@example.com", Locale: "ru-RU",
		Timezone: "Europe/Moscow", Attributes: json.RawMessage(`{"vip":true}`), PreferredChannel: sb.ChannelTelegram,
		Identities: []sb.Identity{{Channel: sb.ChannelSMS, Address: "+79991112233"}, {Channel: sb.ChannelTelegram, Address: "777"}}})
	if _, _, err := db.OptOut(ctx, sb.OptOut{AccountID: account, Channel: sb.ChannelSMS, Address: "+79991112233", Source: "api"}); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetCustomer(ctx, account, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Ivan" || got.PreferredChannel != sb.ChannelTelegram || len(got.Identities) != 2 ||
		got.Identities[0].Channel != sb.ChannelSMS || !got.Identities[0].OptedOut || got.Identities[1].OptedOut {
		t.Fatalf("got %+v", got)
	}
	if _, err := db.GetCustomer(ctx, uuid.NewString(), c.ID); !errors.Is(err, sb.ErrNotFound) {
		t.Fatalf("another account reads the customer: %v", err)
	}

	// An identity of another customer is a conflict, on create and on add.
	_, _, err = db.CreateCustomer(ctx, &sb.Customer{AccountID: account,
		Identities: []sb.Identity{{Channel: sb.ChannelViber, Address: "v1"}, {Channel: sb.ChannelTelegram, Address: "777"}}})
	var e *sb.Error
	if !errors.As(err, &e) || e.Code != sb.EEXISTS || len(e.Fields) != 1 || e.Fields[0].Field != "identities[1]" {
		t.Fatalf("create with a taken identity: %v", err)
	}
	other := createCustomer(t, db, &sb.Customer{AccountID: account})
	if _, _, err := db.AddIdentity(ctx, account, other.ID, sb.ChannelTelegram, "777"); errCode(err) != sb.EEXISTS {
		t.Fatalf("add a taken identity: %v", err)
	}
	tests := []struct {
		name    string
		ch      sb.Channel
		addr    string
		created bool
	}{
		{"new", sb.ChannelWhatsApp, "+79991112233", true},
		{"already there", sb.ChannelTelegram, "777", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, created, err := db.AddIdentity(ctx, account, c.ID, tt.ch, tt.addr)
			if err != nil || created != tt.created {
				t.Fatalf("created %v, %v; want %v", created, err, tt.created)
			}
			if !slices.ContainsFunc(got.Identities, func(i sb.Identity) bool { return i.Channel == tt.ch && i.Address == tt.addr }) {
				t.Fatalf("identities %+v", got.Identities)
			}
		})
	}
	if found, err := db.FindCustomerByIdentity(ctx, account, sb.ChannelWhatsApp, "+79991112233"); err != nil || found.ID != c.ID {
		t.Fatalf("find by identity: %v, %v", found, err)
	}
	if _, err := db.FindCustomerByIdentity(ctx, account, sb.ChannelViber, "nobody"); !errors.Is(err, sb.ErrNotFound) {
		t.Fatalf("find unknown identity: %v", err)
	}
	if err := db.RemoveIdentity(ctx, account, c.ID, sb.ChannelWhatsApp, "+79991112233"); err != nil {
		t.Fatal(err)
	}
	if err := db.RemoveIdentity(ctx, account, c.ID, sb.ChannelWhatsApp, "+79991112233"); errCode(err) != sb.ENOTFOUND {
		t.Fatalf("remove twice: %v", err)
	}

	// Update: nil leaves, "" clears, attributes replace.
	empty, tz := sb.Channel(""), "Asia/Tokyo"
	up, err := db.UpdateCustomer(ctx, account, c.ID, sb.CustomerUpdate{Timezone: &tz, PreferredChannel: &empty, Attributes: json.RawMessage(`{"n":1}`)})
	if err != nil || up.Timezone != tz || up.PreferredChannel != "" || up.Name != "Ivan" || string(up.Attributes) != `{"n": 1}` || !up.UpdatedAt.After(c.UpdatedAt) {
		t.Fatalf("updated %+v, %v", up, err)
	}

	// List pages newest first without repeats.
	for range 3 {
		createCustomer(t, db, &sb.Customer{AccountID: account})
	}
	var seen []string
	cursor := ""
	for {
		page, next, err := db.ListCustomers(ctx, account, sb.CustomerFilter{Cursor: cursor, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page {
			seen = append(seen, p.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 5 || !slices.IsSortedFunc(seen, func(a, b string) int { return strings.Compare(b, a) }) {
		t.Fatalf("listed %v", seen)
	}

	// Delete keeps the customer's messages, detached.
	m := mustInteract(t, db, account, sb.ChannelTelegram, "777", sb.Inbound)
	if m.CustomerID != c.ID {
		t.Fatalf("message on %s, want %s", m.CustomerID, c.ID)
	}
	if err := db.DeleteCustomer(ctx, account, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteCustomer(ctx, account, c.ID); !errors.Is(err, sb.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	kept, err := db.GetMessage(ctx, account, m.ID)
	if err != nil || kept.CustomerID != "" || kept.ConversationID != "" {
		t.Fatalf("message after delete %+v, %v", kept, err)
	}
	var left int
	conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM identities WHERE customer_id = $1) + (SELECT count(*) FROM conversations WHERE customer_id = $1)
		+ (SELECT count(*) FROM customer_events WHERE customer_id = $1) + (SELECT count(*) FROM opt_outs WHERE customer_id = $1)`, c.ID).Scan(&left)
	if left != 0 {
		t.Fatalf("%d rows still point at the deleted customer", left)
	}
	// The next message from the address makes a new customer.
	if m2 := mustInteract(t, db, account, sb.ChannelTelegram, "777", sb.Inbound); m2.CustomerID == c.ID || m2.CustomerID == "" {
		t.Fatalf("message after delete joined %q", m2.CustomerID)
	}
}
