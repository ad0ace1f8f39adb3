package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// reserveScript paces a sender at one message per interval across every
// worker process. A caller over the limit is handed the next free slot and
// that slot is reserved for its message, so when the message comes back at
// its slot it goes straight through: a throttled message waits its turn
// rather than competing again. Redis' clock is used so workers on machines
// with skewed clocks agree.
var reserveScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local margin = tonumber(ARGV[2])
local held = redis.call('GET', KEYS[2])
if held then
  local slot = tonumber(held)
  if slot <= now then
    redis.call('DEL', KEYS[2])
    return 0
  end
  return slot - now
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(tat, now)
-- keys live until their slot has passed, plus a margin
local ttl = math.floor((slot + interval - now) / 1000) + margin
redis.call('SET', KEYS[1], string.format('%d', slot + interval), 'PX', ttl)
if slot <= now then
  return 0
end
redis.call('SET', KEYS[2], string.format('%d', slot), 'PX', ttl)
return slot - now
`)

// Limiter is a per-sender rate limiter shared by all workers through Redis.
type Limiter struct{ rdb redis.UniversalClient }

// NewLimiter returns a limiter over rdb.
func NewLimiter(rdb redis.UniversalClient) *Limiter { return &Limiter{rdb: rdb} }

// Reserve asks for a slot for message msgID from sender at rate messages per
// second. It returns 0 when the message may go now, or how long to wait for
// its reserved slot.
func (l *Limiter) Reserve(ctx context.Context, sender, msgID string, rate float64) (time.Duration, error) {
	if rate <= 0 {
		return 0, nil
	}
	interval := int64(1e6 / rate)
	const marginMS = 60_000
	us, err := reserveScript.Run(ctx, l.rdb, []string{"sb:rl:" + sender, "sb:rl:res:" + msgID}, interval, marginMS).Int64()
	if err != nil {
		return 0, fmt.Errorf("rate limiter: %w", err)
	}
	return time.Duration(us) * time.Microsecond, nil
}
