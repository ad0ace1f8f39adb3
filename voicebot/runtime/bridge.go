package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/voicebot"
	"github.com/switchboardhq/switchboard/voicebot/media"
)

// Browser calls between people: a bot's call transferred to an agent's
// browser, and an agent's browser calling a customer's. Either way a
// browser is rung (it polls its ringing calls and answers one with an SDP
// offer, on a request of its own), and once it answers the two lines are
// bridged here, in the process that holds the first one.

// readyTimeout bounds how long a browser that answered may take to connect.
const readyTimeout = 15 * time.Second

// answerResult is how the wait for a ringing browser ended.
type answerResult int

const (
	answered  answerResult = iota
	noAnswer               // it rang out: the call is no-answer
	holdLeft               // the party waiting on hold hung up
	cancelled              // the context ended: a hangup from the API
)

// ringBackstop delays the durable ring timeout of a call some process waits
// on: the waiter times it out itself, on time, and the task only covers a
// waiter that died.
const ringBackstop = 10 * time.Second

// ring marks a queued browser call ringing and arms its ring timeout; the
// browser sees it in its list of ringing calls.
func (r *Runtime) ring(ctx context.Context, c *sb.Call) (*sb.Call, error) {
	c, changed, err := r.update(ctx, c, sb.CallUpdate{Status: sb.CallRinging})
	if err != nil || !changed {
		return c, err
	}
	at := r.now().Add(time.Duration(c.Timeout) * time.Second)
	if r.live.waits(c.ID) {
		at = at.Add(ringBackstop)
	}
	if err := r.queue.EnqueueRingTimeout(ctx, c.AccountID, c.ID, at); err != nil {
		// The process waiting on the call times it out too; only a call
		// rung from the API with nobody waiting would ring on.
		r.log.WarnContext(ctx, "arm the ring timeout", "call_id", c.ID, "err", err)
	}
	return c, nil
}

// RingTimeout ends a browser call still ringing when its time is up.
func (r *Runtime) RingTimeout(ctx context.Context, accountID, callID string) error {
	c, err := r.store.GetCall(ctx, accountID, callID)
	if err != nil {
		return err
	}
	if c.Status != sb.CallRinging || c.Provider != sb.ProviderWebRTC || r.live.waits(c.ID) {
		return nil // answered, ended, or timed out by its waiter here
	}
	c, changed, err := r.update(ctx, c, sb.CallUpdate{Status: sb.CallNoAnswer, HangupBy: sb.HangupSystem})
	if err != nil || !changed {
		return err
	}
	return r.legEnded(ctx, c)
}

// AnswerBrowser answers a ringing browser call with the browser's line.
// to, when set, is the address the answering browser holds: a call to
// anyone else is not found. A call some process waits on (a transfer, an
// agent's call) is bridged there; a call placed with a flow runs its bot
// over the line here.
func (r *Runtime) AnswerBrowser(ctx context.Context, accountID, callID, to string, line LiveLine) (*sb.Call, error) {
	c, err := r.store.GetCall(ctx, accountID, callID)
	if err != nil {
		return nil, err
	}
	if to != "" && c.To != to {
		return nil, sb.ErrNotFound
	}
	if c.Provider != sb.ProviderWebRTC || c.Direction != sb.CallOutbound {
		return nil, sb.Errorf(sb.EEXISTS, "call %s does not ring a browser", c.ID)
	}
	if c.Status != sb.CallRinging {
		return nil, sb.Errorf(sb.EEXISTS, "call %s is %s: only a ringing call can be answered", c.ID, c.Status)
	}
	if r.cfg.Driver == nil {
		return nil, sb.Errorf(sb.EUNAVAILABLE, "this server has no media driver (TTS engine) for live calls")
	}
	ch, waiting := r.live.claim(c.ID)
	if !waiting && c.FlowID == "" && len(c.Flow) == 0 {
		return nil, sb.Errorf(sb.EEXISTS, "call %s has no flow, and nobody waits for it on this server: answer it through the process that placed it", c.ID)
	}
	c, changed, err := r.update(ctx, c, sb.CallUpdate{Status: sb.CallInProgress})
	if err != nil {
		return nil, err
	}
	if !changed {
		return nil, sb.Errorf(sb.EEXISTS, "call %s is %s: only a ringing call can be answered", c.ID, c.Status)
	}
	if waiting {
		ch <- line // buffered: the waiter takes it
		return c, nil
	}
	bs, err := r.openSession(ctx, c)
	if err == nil {
		c, _, err = r.update(ctx, c, sb.CallUpdate{SessionID: bs.ID})
	}
	if err != nil {
		// Answered but with no bot to run: end it rather than leave it up.
		r.hangupLogged(context.WithoutCancel(ctx), c.AccountID, c.ID, sb.HangupSystem)
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.live.add(c, cancel)
	go r.runLive(runCtx, c, line)
	return c, nil
}

// PlaceLive places a call from an agent's browser to a customer's: the
// customer's browser rings, and once it answers the two are bridged. line
// is the agent's; it waits, silent, until then.
func (r *Runtime) PlaceLive(ctx context.Context, req PlaceRequest, agent string, line LiveLine) (*sb.Call, error) {
	if r.cfg.Driver == nil {
		return nil, sb.Errorf(sb.EUNAVAILABLE, "this server has no media driver (TTS engine) for live calls")
	}
	req.Channel, req.FlowID, req.Flow, req.ringHere = sb.ChannelWebRTC, "", nil, true
	c, err := r.Place(ctx, req)
	if err != nil {
		return nil, err
	}
	if c.Provider != sb.ProviderWebRTC {
		if _, err := r.Hangup(ctx, c.AccountID, c.ID, sb.HangupSystem); err != nil {
			r.log.WarnContext(ctx, "cancel a browser call with no webrtc channel", "call_id", c.ID, "err", err)
		}
		return nil, sb.Invalid(sb.FieldError{Field: "from", Message: "browser calls need a connected webrtc channel with a sender"})
	}
	ch := r.live.expect(c.ID)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.live.add(c, cancel)
	if c, err = r.ring(ctx, c); err != nil {
		r.live.stop(c.ID)
		r.live.claim(c.ID)
		return nil, err
	}
	r.log.InfoContext(ctx, "agent calls a browser", "call_id", c.ID, "agent", agent, "to", c.To)
	go r.runOutgoing(runCtx, c, line, ch)
	return c, nil
}

// runOutgoing waits for the customer to answer an agent's call and
// bridges them.
func (r *Runtime) runOutgoing(ctx context.Context, c *sb.Call, agentLine LiveLine, ch chan LiveLine) {
	defer agentLine.Close()
	defer r.live.stop(c.ID)
	bg := context.WithoutCancel(ctx)
	other, res := r.awaitAnswer(ctx, c, ch, agentLine)
	switch res {
	case holdLeft:
		r.hangupLogged(bg, c.AccountID, c.ID, sb.HangupAgent)
	case answered:
		r.runBridge(ctx, c.AccountID, agentLine, other, bridgeEnd{c.ID, sb.HangupAgent}, bridgeEnd{c.ID, sb.HangupCaller})
	}
}

// transferLive carries out a flow's transfer on a live line c: it rings
// the target's browser on a leg linked to c and bridges the two once it
// answers. Targets are agent:<name> (an agent's inbox) and
// webrtc:<identity> (any browser).
func (r *Runtime) transferLive(ctx context.Context, c *sb.Call, line LiveLine, to string) {
	bg := context.WithoutCancel(ctx)
	leg, err := r.placeLeg(ctx, c, to)
	if err != nil {
		r.log.WarnContext(bg, "transfer a browser call", "call_id", c.ID, "to", to, "err", err)
		r.hangupLogged(bg, c.AccountID, c.ID, sb.HangupSystem)
		return
	}
	legCtx, cancel := context.WithCancel(ctx)
	r.live.add(leg, cancel) // a hangup of the leg stops the wait or the bridge
	defer r.live.stop(leg.ID)
	ch := r.live.expect(leg.ID)
	if leg, err = r.ring(ctx, leg); err != nil {
		r.live.claim(leg.ID)
		r.log.WarnContext(bg, "ring a transfer", "call_id", c.ID, "leg_id", leg.ID, "err", err)
		r.hangupLogged(bg, c.AccountID, c.ID, sb.HangupSystem)
		return
	}
	r.log.InfoContext(ctx, "transferring to a browser", "call_id", c.ID, "leg_id", leg.ID, "to", to)
	other, res := r.awaitAnswer(legCtx, leg, ch, line)
	switch res {
	case noAnswer:
		r.hangupLogged(bg, c.AccountID, c.ID, sb.HangupSystem)
	case holdLeft:
		r.hangupLogged(bg, c.AccountID, c.ID, sb.HangupCaller) // the leg is cancelled with it
	case answered:
		r.runBridge(legCtx, c.AccountID, line, other, bridgeEnd{c.ID, sb.HangupCaller}, bridgeEnd{leg.ID, agentOr(to)})
	}
}

// agentOr is who hangs up the leg to to when its browser leaves.
func agentOr(to string) string {
	if strings.HasPrefix(to, voicebot.AgentPrefix) {
		return sb.HangupAgent
	}
	return sb.HangupCaller
}

// placeLeg stores the leg of a transfer from c to to. An agent's leg
// belongs to the customer's conversation (agents are not customers); a
// browser identity's leg is routed to its own customer.
func (r *Runtime) placeLeg(ctx context.Context, c *sb.Call, to string) (*sb.Call, error) {
	ours := c.To // the address the customer called, or the one that called them
	if c.Direction == sb.CallOutbound {
		ours = c.From
	}
	switch {
	case strings.HasPrefix(to, voicebot.AgentPrefix):
		if !voicebot.ValidAgent(strings.TrimPrefix(to, voicebot.AgentPrefix)) {
			return nil, fmt.Errorf("transfer target %q: not a valid agent name", to)
		}
		leg, hooks, err := r.store.CreateCall(ctx, &sb.Call{AccountID: c.AccountID, Direction: sb.CallOutbound, Channel: sb.ChannelWebRTC,
			From: ours, To: to, CustomerID: c.CustomerID, ConversationID: c.ConversationID, Provider: sb.ProviderWebRTC,
			ChannelID: c.ChannelID, ParentCallID: c.ID, CallbackID: c.CallbackID, StatusCallbackURL: c.StatusCallbackURL,
			Timeout: DefaultRingTimeout})
		r.enqueueWebhooks(ctx, hooks)
		return leg, err
	case strings.HasPrefix(to, "webrtc:"):
		leg, err := r.Place(ctx, PlaceRequest{AccountID: c.AccountID, Channel: sb.ChannelWebRTC, To: strings.TrimPrefix(to, "webrtc:"),
			From: ours, ParentCallID: c.ID, CallbackID: c.CallbackID, StatusCallbackURL: c.StatusCallbackURL, ringHere: true})
		if err == nil && leg.Provider != sb.ProviderWebRTC {
			_, _ = r.Hangup(ctx, leg.AccountID, leg.ID, sb.HangupSystem)
			return nil, errors.New("no webrtc channel carries browser calls")
		}
		return leg, err
	}
	return nil, fmt.Errorf("a browser call transfers to agent:<name> or webrtc:<identity>, not %q", to)
}

// awaitAnswer waits for the browser rung on c to answer (its line arrives
// on ch), for c's ring timeout, or for the party on hold to hang up. The
// one on hold hears silence; their audio is dropped.
func (r *Runtime) awaitAnswer(ctx context.Context, c *sb.Call, ch chan LiveLine, hold media.Line) (LiveLine, answerResult) {
	timer := time.NewTimer(time.Duration(c.Timeout) * time.Second)
	defer timer.Stop()
	for {
		select {
		case l := <-ch:
			return l, answered
		case <-ctx.Done():
			if _, waiting := r.live.claim(c.ID); !waiting {
				// Answered as it was hung up: close the line handed over.
				if l := r.lateLine(ch); l != nil {
					l.Close()
				}
			}
			return nil, cancelled
		case ev, ok := <-hold.Events():
			if ok && ev.Kind != media.EventHangup {
				continue
			}
			if _, waiting := r.live.claim(c.ID); !waiting {
				// Answered as the caller left: take the line to close it.
				if l := r.lateLine(ch); l != nil {
					l.Close()
				}
			}
			return nil, holdLeft
		case <-timer.C:
			bg := context.WithoutCancel(ctx)
			if _, waiting := r.live.claim(c.ID); !waiting {
				// Answered at the last moment: its line is on its way.
				if l := r.lateLine(ch); l != nil {
					return l, answered
				}
			}
			if _, _, err := r.update(bg, c, sb.CallUpdate{Status: sb.CallNoAnswer, HangupBy: sb.HangupSystem}); err != nil {
				r.log.WarnContext(bg, "record no-answer", "call_id", c.ID, "err", err)
			}
			return nil, noAnswer
		}
	}
}

// lateLine is a line handed over after its waiter gave up; AnswerBrowser
// sends it right after claiming, so it is there or coming at once, unless
// the answer failed.
func (r *Runtime) lateLine(ch chan LiveLine) LiveLine {
	select {
	case l := <-ch:
		return l
	case <-time.After(2 * time.Second):
		return nil
	}
}

// bridgeEnd is the call to hang up, and as whom, when one side of a
// bridge leaves.
type bridgeEnd struct{ callID, by string }

// runBridge relays audio between a and b until one leaves, then hangs up
// that side's call (its linked leg follows). b is closed here; a belongs
// to the caller.
func (r *Runtime) runBridge(ctx context.Context, accountID string, a, b LiveLine, endA, endB bridgeEnd) {
	defer b.Close()
	bg := context.WithoutCancel(ctx)
	if err := waitReady(ctx, b); err != nil {
		if ctx.Err() == nil {
			r.log.WarnContext(bg, "bridge a browser call", "call_id", endB.callID, "err", err)
			r.hangupLogged(bg, accountID, endB.callID, sb.HangupSystem)
		}
		return
	}
	side, err := media.Bridge(ctx, a, b)
	switch {
	case err != nil:
		r.log.WarnContext(bg, "bridge a browser call", "call_id", endB.callID, "err", err)
		r.hangupLogged(bg, accountID, endA.callID, sb.HangupSystem)
	case side == media.SideA:
		r.hangupLogged(bg, accountID, endA.callID, endA.by)
	case side == media.SideB:
		r.hangupLogged(bg, accountID, endB.callID, endB.by)
	}
}

// waitReady waits for a line's connection to come up, if it reports it:
// audio written before that would be lost.
func waitReady(ctx context.Context, line media.Line) error {
	rl, ok := line.(interface{ Ready() <-chan struct{} })
	if !ok {
		return nil
	}
	select {
	case <-rl.Ready():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(readyTimeout):
		return errors.New("the browser never connected")
	}
}

func (r *Runtime) hangupLogged(ctx context.Context, accountID, callID, by string) {
	if _, err := r.Hangup(ctx, accountID, callID, by); err != nil {
		r.log.WarnContext(ctx, "end a browser call", "call_id", callID, "err", err)
	}
}
