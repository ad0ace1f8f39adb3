package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// clkTck is USER_HZ, the unit of /proc CPU times; 100 on every Linux
// architecture Go supports in practice.
const clkTck = 100

// procGroups names the processes whose CPU the report splits out. A zero
// pid falls back to matching by command name.
type procGroups struct {
	self, server, pg, redis int
}

func (g procGroups) classify(pid, ppid int, comm string) string {
	switch {
	case pid == g.self:
		return "sbbench"
	case g.server != 0 && (pid == g.server || ppid == g.server):
		return "switchboard"
	case g.pg != 0 && ppid == g.pg && isClientBackend(pid):
		return "postgres"
	case g.pg != 0 && (pid == g.pg || ppid == g.pg):
		return "pg-bg"
	case g.redis != 0 && pid == g.redis:
		return "redis"
	case g.server == 0 && comm == "switchboard":
		return "switchboard"
	case g.pg == 0 && comm == "postgres":
		return "postgres"
	case g.redis == 0 && comm == "redis-server":
		return "redis"
	}
	return "other"
}

// sample is the state of the machine and the stack at one instant.
type sample struct {
	at       time.Time
	procs    map[int]procTime // pid → CPU ticks
	cpuBusy  uint64           // /proc/stat: all CPUs, non-idle ticks
	cpuTotal uint64
	ctxt     uint64 // /proc/stat: context switches since boot
	pg       pgCounters
	redisCmd int64
	metrics  serverMetrics
}

type procTime struct {
	group string
	ticks uint64 // user + system
	sys   uint64
}

type pgCounters struct {
	ok       bool
	commits  int64
	rollback int64
	walLSN   string
	walSync  int64 // -1 when pg_stat_wal has no wal_sync (PostgreSQL 18+)
	walWrite int64
}

func snapshot(ctx context.Context, g procGroups, db *pgx.Conn, rc *redisStats, a *api) sample {
	s := sample{at: time.Now(), procs: readProcs(g)}
	s.cpuBusy, s.cpuTotal, s.ctxt = readCPU()
	s.pg = readPG(ctx, db)
	s.redisCmd = rc.commands(ctx)
	s.metrics = a.scrapeMetrics(ctx)
	return s
}

func readProcs(g procGroups) map[int]procTime {
	out := map[int]procTime{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		l, r := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if l < 0 || r < l {
			continue
		}
		comm := s[l+1 : r]
		f := strings.Fields(s[r+1:])
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseUint(f[11], 10, 64)
		st, _ := strconv.ParseUint(f[12], 10, 64)
		out[pid] = procTime{group: g.classify(pid, ppid, comm), ticks: ut + st, sys: st}
	}
	return out
}

// isClientBackend tells a PostgreSQL backend serving a TCP client
// ("postgres: postgres switchboard 127.0.0.1(41234) idle") from the
// postmaster's background processes (WAL writer, checkpointer, autovacuum).
func isClientBackend(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && strings.Contains(string(b), "127.0.0.1(")
}

func readCPU() (busy, total, ctxt uint64) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0, 0
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0, 0
	}
	for i, v := range fields[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		if i >= 8 { // guest times are already in user and nice
			break
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "ctxt "); ok {
			ctxt, _ = strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return busy, total, ctxt
}

func readPG(ctx context.Context, db *pgx.Conn) pgCounters {
	var c pgCounters
	err := db.QueryRow(ctx, `SELECT xact_commit, xact_rollback, pg_current_wal_lsn()::text
		FROM pg_stat_database WHERE datname = current_database()`).Scan(&c.commits, &c.rollback, &c.walLSN)
	if err != nil {
		return c
	}
	c.ok = true
	c.walSync = -1
	db.QueryRow(ctx, `SELECT wal_sync, wal_write FROM pg_stat_wal`).Scan(&c.walSync, &c.walWrite)
	return c
}

// lsn parses a pg_lsn ("16/B374D848") into a byte position.
func lsn(s string) (uint64, bool) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, false
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	return h<<32 | l, err1 == nil && err2 == nil
}

// resources turns two samples into a per-group CPU split and per-message
// database and Redis costs. msgs is what the window accepted (or
// processed); delivered, when non-zero, is used for per-message costs
// instead, as each delivered message costs more than its accept.
func resources(label string, a, b sample, msgs, delivered int) Resources {
	secs := b.at.Sub(a.at).Seconds()
	r := Resources{Window: label, Seconds: secs, CPUCores: map[string]float64{}}
	ticks, sys := map[string]uint64{}, map[string]uint64{}
	for pid, pb := range b.procs {
		pa, ok := a.procs[pid]
		if ok && pa.ticks <= pb.ticks && pa.sys <= pb.sys {
			ticks[pb.group] += pb.ticks - pa.ticks
			sys[pb.group] += pb.sys - pa.sys
		} else if !ok {
			ticks[pb.group] += pb.ticks
			sys[pb.group] += pb.sys
		}
	}
	r.SysShare = map[string]float64{}
	for gname, t := range ticks {
		if t > 0 {
			r.SysShare[gname] = round2(float64(sys[gname]) / float64(t))
		}
	}
	for gname, t := range ticks {
		r.CPUCores[gname] = round2(float64(t) / clkTck / secs)
	}
	stackTicks := ticks["switchboard"] + ticks["postgres"] + ticks["pg-bg"] + ticks["redis"]
	r.Disturbed = r.CPUCores["other"] >= disturbedCores
	if dt := b.cpuTotal - a.cpuTotal; dt > 0 {
		r.MachineBusyPct = round2(100 * float64(b.cpuBusy-a.cpuBusy) / float64(dt))
	}
	per := msgs
	if delivered > 0 {
		per = delivered
	}
	r.PerMessageOf = per
	if a.pg.ok && b.pg.ok && secs > 0 {
		r.PGCommits = b.pg.commits - a.pg.commits
		r.PGCommitsPerSec = round2(float64(r.PGCommits) / secs)
		if a.pg.walSync >= 0 && b.pg.walSync >= 0 {
			r.WALSyncs = b.pg.walSync - a.pg.walSync
			r.WALSyncsPerSec = round2(float64(r.WALSyncs) / secs)
		} else {
			r.WALSyncs = -1
		}
		if from, ok := lsn(a.pg.walLSN); ok {
			if to, ok := lsn(b.pg.walLSN); ok && to >= from {
				r.WALBytes = int64(to - from)
			}
		}
	}
	if b.redisCmd > 0 && a.redisCmd > 0 {
		r.RedisCommands = b.redisCmd - a.redisCmd
		r.RedisCmdsPerSec = round2(float64(r.RedisCommands) / secs)
	}
	if per > 0 {
		r.PGCommitsPerMsg = round2(float64(r.PGCommits) / float64(per))
		r.RedisCmdsPerMsg = round2(float64(r.RedisCommands) / float64(per))
		r.WALBytesPerMsg = int64(float64(r.WALBytes) / float64(per))
		if b.ctxt > a.ctxt {
			r.CtxSwitchesPerMsg = round2(float64(b.ctxt-a.ctxt) / float64(per))
		}
		r.StackCPUMsPerMsg = round2(float64(stackTicks) * 1000 / clkTck / float64(per))
		if r.WALSyncs > 0 {
			r.WALSyncsPerMsg = round2(float64(r.WALSyncs) / float64(per))
		}
	}
	return r
}

// backgroundLoad measures for d how many cores processes outside the
// benchmark (group "other") keep busy.
func backgroundLoad(g procGroups, d time.Duration) float64 {
	a := sample{at: time.Now(), procs: readProcs(g)}
	time.Sleep(d)
	b := sample{at: time.Now(), procs: readProcs(g)}
	return resources("", a, b, 0, 0).CPUCores["other"]
}

// disturbedCores is how much CPU other processes may take during a window
// before the report flags its numbers as disturbed.
const disturbedCores = 0.25

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

type redisStats struct{ rdb *redis.Client }

func newRedisStats(url string) (*redisStats, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("parse redis url: %w", err)
	}
	return &redisStats{rdb: redis.NewClient(opt)}, nil
}

func (r *redisStats) Close() { r.rdb.Close() }

func (r *redisStats) info(ctx context.Context, section, key string) string {
	s, err := r.rdb.Info(ctx, section).Result()
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(s, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+":"); ok {
			return v
		}
	}
	return ""
}

func (r *redisStats) commands(ctx context.Context) int64 {
	n, _ := strconv.ParseInt(r.info(ctx, "stats", "total_commands_processed"), 10, 64)
	return n
}

func (r *redisStats) version(ctx context.Context) string {
	return r.info(ctx, "server", "redis_version")
}

func pgVersion(ctx context.Context, db *pgx.Conn) string {
	var v, fsync, sc string
	db.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit')`).Scan(&v, &fsync, &sc)
	return fmt.Sprintf("%s (fsync=%s, synchronous_commit=%s)", v, fsync, sc)
}

func machineInfo() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m.CPUModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				f := strings.Fields(v)
				if len(f) > 0 {
					kb, _ := strconv.ParseInt(f[0], 10, 64)
					m.MemoryGiB = round2(float64(kb) / (1 << 20))
				}
			}
		}
	}
	return m
}
