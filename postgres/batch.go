package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	sb "github.com/switchboardhq/switchboard"
)

// maxBatch bounds how many messages share one INSERT and one commit.
const maxBatch = 512

type insertReq struct {
	m    *sb.Message
	done chan error
}

// batcher is group commit for accepted messages: concurrent requests that
// arrive while a commit is in flight are written together by the next one,
// so N requests cost one statement and one WAL flush instead of N. It adds
// no waiting of its own: a lone request is written at once.
type batcher struct {
	db *DB
	ch chan insertReq
	wg sync.WaitGroup
}

// EnableGroupCommit starts n writers that batch plain message inserts (no
// idempotency key, no webhook fan-out). Close stops them.
func (db *DB) EnableGroupCommit(n int) {
	b := &batcher{db: db, ch: make(chan insertReq, 4*maxBatch)}
	for range n {
		b.wg.Go(b.loop)
	}
	db.batch = b
}

func (b *batcher) stop() {
	close(b.ch)
	b.wg.Wait()
}

// insert queues m and waits until its batch is committed.
func (b *batcher) insert(ctx context.Context, m *sb.Message) error {
	req := insertReq{m: m, done: make(chan error, 1)}
	select {
	case b.ch <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		// The row may still commit; the client retries with its
		// idempotency key to learn the outcome.
		return ctx.Err()
	}
}

func (b *batcher) loop() {
	batch := make([]insertReq, 0, maxBatch)
	for first := range b.ch {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-b.ch:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		b.write(batch)
	}
}

// write inserts a batch in one statement. If the statement fails, each
// message is retried alone so one bad row cannot fail its neighbours.
func (b *batcher) write(batch []insertReq) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if len(batch) == 1 {
		_, err := insertMessage(ctx, b.db.pool, batch[0].m, "")
		batch[0].done <- err
		return
	}
	if err := b.db.insertMany(ctx, batch); err == nil {
		for _, r := range batch {
			r.done <- nil
		}
		return
	}
	for _, r := range batch {
		_, err := insertMessage(ctx, b.db.pool, r.m, "")
		r.done <- err
	}
}

func (db *DB) insertMany(ctx context.Context, batch []insertReq) error {
	n := len(batch)
	var (
		ids, accounts, channels, dirs, froms, tos, bodies, media, meta, statuses, callbacks, encs, provs = make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		segs    = make([]int32, n)
		created = make([]time.Time, n)

		customers, convs, cats, routings, deferred = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		chans                                      = make([]string, n)
	)
	for i, r := range batch {
		m := r.m
		mu, _ := json.Marshal(m.MediaURLs)
		if m.MediaURLs == nil {
			mu = []byte("[]")
		}
		ids[i], accounts[i], channels[i], dirs[i] = m.ID, m.AccountID, string(m.Channel), string(m.Direction)
		froms[i], tos[i], bodies[i], media[i], meta[i] = m.From, m.To, m.Text, string(mu), string(m.Metadata)
		statuses[i], callbacks[i], encs[i], provs[i] = string(m.Status), m.StatusCallbackURL, m.Encoding, m.Provider
		segs[i], created[i] = int32(m.Segments), m.CreatedAt
		customers[i], convs[i], cats[i], chans[i] = m.CustomerID, m.ConversationID, m.Category, m.ChannelID
		if r, _ := routingColumns(m); r != nil {
			routings[i] = string(r)
		}
		if !m.DeferredUntil.IsZero() {
			deferred[i] = m.DeferredUntil.Format(time.RFC3339Nano)
		}
	}
	_, err := db.pool.Exec(ctx, `WITH ins AS (
		INSERT INTO messages (id, account_id, channel, direction, from_addr, to_addr, body, media_urls, metadata,
			status, status_callback_url, encoding, segments, provider, sequence, created_at, updated_at,
			customer_id, conversation_id, category, routing, deferred_until, next_attempt_at, channel_id)
		SELECT u.id, u.acc, u.ch, u.dir, u.fr, u.t, u.body, u.media::jsonb, u.meta::jsonb,
			u.st, NULLIF(u.cb, ''), NULLIF(u.enc, ''), NULLIF(u.seg, 0), u.prov, 1, u.ca, u.ca,
			NULLIF(u.cust, '')::uuid, NULLIF(u.conv, '')::uuid, NULLIF(u.cat, ''), NULLIF(u.rt, '')::jsonb,
			NULLIF(u.du, '')::timestamptz, NULLIF(u.du, '')::timestamptz, NULLIF(u.chn, '')::uuid
		FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::text[], $10::text[], $11::text[], $12::text[], $13::int[], $14::text[], $15::timestamptz[],
			$16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[])
			AS u(id, acc, ch, dir, fr, t, body, media, meta, st, cb, enc, seg, prov, ca, cust, conv, cat, rt, du, chn)
		RETURNING id, status, created_at)
		INSERT INTO message_events (message_id, sequence, status, created_at) SELECT id, 1, status, created_at FROM ins`,
		ids, accounts, channels, dirs, froms, tos, bodies, media, meta, statuses, callbacks, encs, segs, provs, created,
		customers, convs, cats, routings, deferred, chans)
	if err != nil {
		return customerGone(fmt.Errorf("insert batch of %d: %w", n, err))
	}
	return nil
}
