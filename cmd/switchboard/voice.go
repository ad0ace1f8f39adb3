package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/api"
	"github.com/switchboardhq/switchboard/postgres"
	"github.com/switchboardhq/switchboard/providers/twilio"
	"github.com/switchboardhq/switchboard/queue"
	"github.com/switchboardhq/switchboard/routing"
	"github.com/switchboardhq/switchboard/voicebot"
	"github.com/switchboardhq/switchboard/voicebot/llm"
	"github.com/switchboardhq/switchboard/voicebot/media"
	"github.com/switchboardhq/switchboard/voicebot/runtime"
	"github.com/switchboardhq/switchboard/voicebot/stt"
	"github.com/switchboardhq/switchboard/voicebot/tts"
	"github.com/switchboardhq/switchboard/webhook"
)

// speech holds the account-independent speech and language engines the
// configuration names; each is nil when not configured.
type speech struct {
	tts   *tts.Cache
	stt   stt.Engine
	model voicebot.ChatModel
}

func newSpeech(cfg Config, log *slog.Logger) speech {
	var s speech
	client := &http.Client{Timeout: 60 * time.Second}
	switch cfg.TTSEngine {
	case "espeak":
		s.tts = tts.NewCache(&tts.Espeak{}, int64(cfg.TTSCacheMB)<<20)
	case "http":
		s.tts = tts.NewCache(&tts.HTTPEngine{BaseURL: cfg.TTSBaseURL, APIKey: cfg.TTSAPIKey, Model: cfg.TTSModel, HTTP: client}, int64(cfg.TTSCacheMB)<<20)
	case "none", "":
	default:
		log.Warn("unknown SWITCHBOARD_TTS_ENGINE; prompts are not rendered", "engine", cfg.TTSEngine)
	}
	if cfg.STTBaseURL != "" {
		s.stt = &stt.OpenAI{BaseURL: cfg.STTBaseURL, APIKey: cfg.STTAPIKey, Model: cfg.STTModel, HTTP: client}
	}
	if cfg.LLMBaseURL != "" {
		s.model = &llm.Client{BaseURL: cfg.LLMBaseURL, APIKey: cfg.LLMAPIKey, Model: cfg.LLMModel, HTTP: client}
	}
	return s
}

// speaker renders the sandbox telephone's prompts through the TTS cache.
type speaker struct{ c *tts.Cache }

func (s speaker) Speak(ctx context.Context, text, voice, language string) (time.Duration, error) {
	a, err := s.c.Synthesize(ctx, tts.Request{Text: text, Voice: voice, Language: language, SampleRate: 8000})
	if err != nil {
		return 0, err
	}
	return a.Duration(), nil
}

// runtimeQueue is the queue as the voice-bot runtime sees it.
type runtimeQueue struct{ qc *queue.Client }

func (q runtimeQueue) EnqueueWebhooks(ctx context.Context, ids []string) error {
	return q.qc.EnqueueWebhooks(ctx, ids)
}

func (q runtimeQueue) EnqueueDial(ctx context.Context, accountID, callID string) error {
	return q.qc.EnqueueDial(ctx, accountID, callID)
}

func (q runtimeQueue) EnqueueRingTimeout(ctx context.Context, accountID, callID string, at time.Time) error {
	return q.qc.EnqueueRingTimeout(ctx, accountID, callID, at)
}

func (q runtimeQueue) EnqueueBotTimeout(ctx context.Context, accountID, sessionID string, seq int, at time.Time) error {
	return q.qc.EnqueueBotTimeout(ctx, accountID, sessionID, seq, at)
}

// newRuntime wires the voice-bot runtime: out sends the bots' messages.
func newRuntime(cfg Config, db *postgres.DB, rt *routing.Service, out runtime.Outbox, qc *queue.Client, p *providerSet, sp speech, guard webhook.Guard, log *slog.Logger) *runtime.Runtime {
	rc := runtime.Config{PublicURL: cfg.PublicURL, HTTP: webhook.NewHTTPClient(guard, 30*time.Second), Model: sp.model}
	if sp.tts != nil {
		rc.Speaker = speaker{sp.tts}
		rc.Driver = func() *media.Driver {
			d := &media.Driver{TTS: sp.tts, BargeIn: true, Log: log}
			if sp.stt != nil {
				d.STT = sp.stt
			}
			return d
		}
	}
	return runtime.New(rc, db, rt, out, runtimeQueue{qc}, p, log)
}

// twilioVoice returns the Twilio client of a channel that carries calls.
func (p *providerSet) twilioVoice(ch *sb.ConnectedChannel) (*twilio.Client, error) {
	if ch.Type != sb.ProviderTwilio {
		return nil, sb.Errorf(sb.EINVALID, "%s channels carry no calls", ch.Type)
	}
	c, err := p.open(ch)
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*twilio.Client)
	if !ok {
		return nil, fmt.Errorf("twilio channel %s opened as %T", ch.ID, c)
	}
	return tc, nil
}

// PlaceCall dials c through the channel's provider.
func (p *providerSet) PlaceCall(ctx context.Context, ch *sb.ConnectedChannel, c *sb.Call, urls runtime.CallURLs) (string, error) {
	tc, err := p.twilioVoice(ch)
	if err != nil {
		return "", err
	}
	return tc.PlaceCall(ctx, twilio.CallRequest{To: c.To, From: c.From, URL: urls.Voice, StatusCallback: urls.Status,
		Timeout: c.Timeout, Record: c.Record, MachineDetection: c.MachineDetection})
}

// HangupCall ends c at its provider.
func (p *providerSet) HangupCall(ctx context.Context, ch *sb.ConnectedChannel, c *sb.Call) error {
	tc, err := p.twilioVoice(ch)
	if err != nil {
		return err
	}
	return tc.HangupCall(ctx, c.ProviderCallID)
}

// ParseVoice authenticates a provider's call webhook and reads it.
func (p *providerSet) ParseVoice(ch *sb.ConnectedChannel, r *http.Request, body []byte, publicURL string) (runtime.VoiceEvent, error) {
	tc, err := p.twilioVoice(ch)
	if err != nil {
		return runtime.VoiceEvent{}, err
	}
	v, err := tc.ParseVoiceRequest(r, body, publicURL)
	if err != nil {
		return runtime.VoiceEvent{}, err
	}
	q := r.URL.Query()
	ev := runtime.VoiceEvent{Kind: q.Get("event"), CallID: q.Get("call"), ProviderCallID: v.CallSid, From: v.From, To: v.To,
		Inbound: v.Direction == "inbound", AnsweredBy: v.AnsweredBy, ErrorCode: v.ErrorCode, ErrorMessage: v.ErrorMessage,
		DialStatus: v.DialCallStatus}
	if ev.Kind == "" {
		ev.Kind = runtime.VoiceAnswer // an inbound call: the number's voice URL carries no query
	}
	switch ev.Kind {
	case runtime.VoiceStatus:
		st, ok := twilio.CallStatus(v.CallStatus)
		if !ok {
			return ev, sb.Errorf(sb.EINVALID, "unknown Twilio CallStatus %q", v.CallStatus)
		}
		ev.Status, ev.RecordingURL = st, v.RecordingURL
		if d, err := strconv.Atoi(v.CallDuration); err == nil {
			ev.Duration = &d
		}
	case runtime.VoiceInput:
		switch {
		case v.RecordingURL != "":
			ev.Input = voicebot.Input{Kind: voicebot.InputRecording, Value: v.RecordingURL}
		case v.Digits != "":
			ev.Input = voicebot.Input{Kind: voicebot.InputDigits, Value: v.Digits}
		case v.SpeechResult != "":
			ev.Input = voicebot.Input{Kind: voicebot.InputSpeech, Value: v.SpeechResult}
		default:
			ev.Input = voicebot.Input{Kind: voicebot.InputTimeout}
		}
	}
	return ev, nil
}

// RenderVoice renders a turn as TwiML whose results come back to base.
func (p *providerSet) RenderVoice(ch *sb.ConnectedChannel, turn voicebot.Turn, base string) ([]byte, string) {
	urls := twilio.TwiMLURLs{Gather: base + "&event=input", Record: base + "&event=input", Dial: base + "&event=dial"}
	return twilio.RenderTwiML(turn.Actions, urls, turn.Ended), "text/xml; charset=utf-8"
}

var (
	_ runtime.Telephony  = (*providerSet)(nil)
	_ api.VoiceProviders = (*providerSet)(nil)
)
