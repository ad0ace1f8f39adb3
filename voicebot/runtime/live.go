package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/voicebot"
	"github.com/switchboardhq/switchboard/voicebot/media"
)

// LiveLine is an audio line this process drives itself (a browser's peer
// connection): frames out, keys and speech in, closed when the call ends.
type LiveLine interface {
	media.Line
	Close() error
}

// live tracks the calls whose audio this process carries, so a hangup from
// the API stops their driver and closes their line, and the browser calls
// ringing from here, waiting for the browser that answers them.
type live struct {
	mu      sync.Mutex
	calls   map[string]liveCall
	waiting map[string]chan LiveLine
}

// liveCall is a call this process carries: its account and what stops it.
type liveCall struct {
	account string
	cancel  context.CancelFunc
}

// expect registers a ringing call whose answering line is to be handed
// to the returned channel.
func (l *live) expect(id string) chan LiveLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.waiting == nil {
		l.waiting = map[string]chan LiveLine{}
	}
	ch := make(chan LiveLine, 1)
	l.waiting[id] = ch
	return ch
}

// waits reports whether this process waits for call id to be answered.
func (l *live) waits(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.waiting[id]
	return ok
}

// claim takes the channel a ringing call waits on, if this process has one.
func (l *live) claim(id string) (chan LiveLine, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch, ok := l.waiting[id]
	delete(l.waiting, id)
	return ch, ok
}

func (l *live) add(c *sb.Call, cancel context.CancelFunc) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.calls == nil {
		l.calls = map[string]liveCall{}
	}
	l.calls[c.ID] = liveCall{c.AccountID, cancel}
}

func (l *live) stop(id string) {
	l.mu.Lock()
	lc, ok := l.calls[id]
	delete(l.calls, id)
	l.mu.Unlock()
	if ok {
		lc.cancel()
	}
}

// list is every call this process carries, id → account.
func (l *live) list() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]string, len(l.calls))
	for id, lc := range l.calls {
		out[id] = lc.account
	}
	return out
}

// KeepLive holds the lease of the calls this process carries until ctx
// ends: every interval it touches them, so the sweeper knows they are
// carried, and stops those that ended elsewhere (hung up through another
// API process, or expired), closing their lines.
func (r *Runtime) KeepLive(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		calls := r.live.list()
		if len(calls) == 0 {
			continue
		}
		ids := make([]string, 0, len(calls))
		for id := range calls {
			ids = append(ids, id)
		}
		ended, err := r.store.TouchCalls(ctx, ids)
		if err != nil {
			r.log.WarnContext(ctx, "touch live calls", "calls", len(ids), "err", err)
			continue
		}
		for _, id := range ended {
			r.log.InfoContext(ctx, "a live call ended elsewhere; closing its line", "call_id", id)
			r.live.stop(id)
		}
	}
}

// ExpireLive ends a browser call in progress that no process touches any
// more (the sweeper found its lease lapsed: its carrier died).
func (r *Runtime) ExpireLive(ctx context.Context, accountID, callID string) error {
	c, err := r.store.GetCall(ctx, accountID, callID)
	if err != nil {
		return err
	}
	if c.Status != sb.CallInProgress || c.Provider != sb.ProviderWebRTC {
		return nil
	}
	r.log.WarnContext(ctx, "ending a browser call whose server stopped carrying it", "call_id", c.ID)
	_, err = r.Hangup(ctx, accountID, callID, sb.HangupSystem)
	return err
}

// EndLive hangs up every call whose audio this process carries, as the
// system's hangup: on shutdown, so they do not stay in-progress with
// nobody on the line (their browsers see the connection close). It
// returns how many it ended.
func (r *Runtime) EndLive(ctx context.Context) int {
	calls := r.live.list()
	for id, account := range calls {
		r.hangupLogged(ctx, account, id, sb.HangupSystem)
	}
	return len(calls)
}

// tailDrain is how long a line stays open after the bot's last frame.
const tailDrain = 300 * time.Millisecond

// AnswerLive answers a call that arrived on a live line: it stores the
// call (inbound, in-progress), opens a bot session on the flow of the
// address called, and runs the media driver on the line in the
// background: the flow's prompts become audio, the caller's keys and
// speech its input. The call ends when the flow ends, the caller leaves,
// or the API hangs it up.
func (r *Runtime) AnswerLive(ctx context.Context, req InboundCallRequest, line LiveLine) (*sb.Call, error) {
	if r.cfg.Driver == nil {
		return nil, sb.Errorf(sb.EUNAVAILABLE, "this server has no media driver (TTS engine) for live calls")
	}
	out, err := r.inbound(ctx, req, false)
	if err != nil {
		return nil, err
	}
	c := out.Call
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.live.add(c, cancel)
	go r.runLive(runCtx, c, line)
	return c, nil
}

// runLive drives one live call to its end.
func (r *Runtime) runLive(ctx context.Context, c *sb.Call, line LiveLine) {
	defer line.Close()
	defer r.live.stop(c.ID)
	by := sb.HangupBot
	var flowErr error
	if err := waitReady(ctx, line); err != nil {
		if ctx.Err() != nil {
			return
		}
		flowErr = err
	}
	if flowErr != nil {
		by = sb.HangupSystem
	} else if c.SessionID != "" {
		d := r.cfg.Driver()
		flowEnded := false // the flow itself ended the call (not the caller)
		transferTo := ""
		err := d.Run(ctx, line, func(ctx context.Context, in voicebot.Input) (voicebot.Turn, error) {
			out, err := r.advance(ctx, c.AccountID, c.SessionID, in, turnOpts{})
			if err != nil {
				return voicebot.Turn{}, err
			}
			if out == nil {
				return voicebot.Turn{}, errors.New("the session moved on")
			}
			flowEnded = out.Turn.Ended && in.Kind != voicebot.InputHangup
			for _, a := range out.Turn.Actions {
				if a.Type == voicebot.ActTransfer {
					transferTo = a.To
				}
			}
			return out.Turn, nil
		})
		if !flowEnded {
			by = sb.HangupCaller
		}
		switch {
		case ctx.Err() != nil:
			return // hung up from the API: its Hangup records who and how
		case err != nil:
			flowErr = err
			by = sb.HangupSystem
		case flowEnded && transferTo != "":
			r.transferLive(ctx, c, line, transferTo)
			return
		case flowEnded:
			// The last frames are still on their way and in the browser's
			// jitter buffer: closing at once would cut the goodbye short.
			select {
			case <-time.After(tailDrain):
			case <-ctx.Done():
			}
		}
	} else {
		// No flow: the line stays up until someone hangs up.
		select {
		case <-ctx.Done():
			return
		case <-waitHangup(line):
			by = sb.HangupCaller
		}
	}
	bg := context.WithoutCancel(ctx)
	if flowErr != nil {
		r.log.WarnContext(bg, "live call ended by an error", "call_id", c.ID, "err", flowErr)
	}
	if _, err := r.Hangup(bg, c.AccountID, c.ID, by); err != nil {
		r.log.WarnContext(bg, "end live call", "call_id", c.ID, "err", err)
	}
}

// waitHangup closes when the line reports a hangup (or closes its events).
func waitHangup(line media.Line) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range line.Events() {
			if ev.Kind == media.EventHangup {
				return
			}
		}
	}()
	return done
}

// inbound stores an inbound call on the flow of the address called and
// opens its session; advance false leaves the first turn to the caller
// (a live line's driver takes it).
func (r *Runtime) inbound(ctx context.Context, req InboundCallRequest, advance bool) (*Outcome, error) {
	flowID, err := r.inboundFlow(ctx, req.AccountID, req.ChannelID, req.Channel, req.To)
	if err != nil {
		return nil, err
	}
	if flowID == "" {
		return nil, sb.Invalid(sb.FieldError{Field: "to", Message: fmt.Sprintf("%s:%s names no inbound_flow_id: connect a channel with that %s sender and an inbound_flow_id", req.Channel, req.To, req.Channel)})
	}
	c, err := r.storeInbound(ctx, req, flowID)
	if err != nil {
		return nil, err
	}
	if advance {
		return r.start(ctx, c)
	}
	bs, err := r.openSession(ctx, c)
	if err != nil {
		return nil, err
	}
	if c, _, err = r.update(ctx, c, sb.CallUpdate{SessionID: bs.ID}); err != nil {
		return nil, err
	}
	return &Outcome{Call: c, Session: bs}, nil
}
