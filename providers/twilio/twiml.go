package twilio

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/voicebot"
)

// TwiMLContentType is the content type to answer TwiML with.
const TwiMLContentType = "text/xml; charset=utf-8"

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>`

// TwiMLURLs are the absolute URLs Twilio posts verb results to: our voice
// webhook, with query parameters telling the results apart.
type TwiMLURLs struct {
	Gather string // Digits or SpeechResult, or an empty result on timeout
	Record string // RecordingUrl
	Dial   string // DialCallStatus once a transfer ends
}

// RenderTwiML turns one turn's actions into the TwiML document Twilio
// executes. The turn ends at the first gather, record, transfer or hangup:
// Twilio posts the first three's results to urls and carries on with
// whatever we answer then. The says, plays and pauses directly before a
// gather go inside it, so that the caller can answer before the prompt
// ends. ended appends a Hangup when the actions do not end the call
// themselves.
func RenderTwiML(actions []voicebot.Action, urls TwiMLURLs, ended bool) []byte {
	var b twimlBuilder
	b.WriteString(xmlHeader + "<Response>")
	closed := false // the document ends the call or waits on a verb's result
	for i := 0; i < len(actions) && !closed; i++ {
		a := actions[i]
		switch a.Type {
		case voicebot.ActSay, voicebot.ActPlay, voicebot.ActPause:
			// A prompt run that a gather follows is written inside it.
			j := i
			for j < len(actions) && isPrompt(actions[j].Type) {
				j++
			}
			if j < len(actions) && actions[j].Type == voicebot.ActGather {
				b.gather(actions[j].Gather, urls.Gather, actions[i:j])
				i, closed = j, true
				continue
			}
			b.prompt(a)
		case voicebot.ActGather:
			b.gather(a.Gather, urls.Gather, nil)
			closed = true
		case voicebot.ActRecord:
			b.record(a.Record, urls.Record)
			closed = true
		case voicebot.ActTransfer:
			if voicebot.BrowserTarget(a.To) {
				// A phone call has no media path to a browser here.
				b.WriteString("<Hangup/>")
			} else {
				b.dial(a.To, urls.Dial)
			}
			closed = true
		case voicebot.ActHangup:
			b.WriteString("<Hangup/>")
			closed = true
		}
	}
	if ended && !closed {
		b.WriteString("<Hangup/>")
	}
	b.WriteString("</Response>")
	return b.Bytes()
}

// RenderRedirect is a document that sends the call to u (POST) for its
// next TwiML.
func RenderRedirect(u string) []byte {
	var b twimlBuilder
	b.WriteString(xmlHeader + "<Response>")
	b.element("Redirect", u, "method", http.MethodPost)
	b.WriteString("</Response>")
	return b.Bytes()
}

func isPrompt(t string) bool {
	return t == voicebot.ActSay || t == voicebot.ActPlay || t == voicebot.ActPause
}

// twimlBuilder writes TwiML by hand, escaping with encoding/xml:
// xml.Encoder cannot write the self-closing verbs (<Hangup/>) Twilio's
// documentation shows.
type twimlBuilder struct{ bytes.Buffer }

// element writes <name attrs…>text</name>, or <name attrs…/> when text is
// empty. attrs are name, value pairs; empty values are left out.
func (b *twimlBuilder) element(name, text string, attrs ...string) {
	b.open(name, attrs...)
	if text == "" {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	xml.EscapeText(b, []byte(text))
	b.WriteString("</" + name + ">")
}

// open writes <name attrs… without closing the tag.
func (b *twimlBuilder) open(name string, attrs ...string) {
	b.WriteString("<" + name)
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] == "" {
			continue
		}
		b.WriteString(" " + attrs[i] + `="`)
		xml.EscapeText(b, []byte(attrs[i+1]))
		b.WriteByte('"')
	}
}

// prompt writes a say, play or pause.
func (b *twimlBuilder) prompt(a voicebot.Action) {
	switch a.Type {
	case voicebot.ActSay:
		if a.Text == "" {
			return // <Say/> is an error to Twilio
		}
		voice := ""
		if twilioVoice(a.Voice) {
			voice = a.Voice
		}
		b.element("Say", a.Text, "voice", voice, "language", a.Language)
	case voicebot.ActPlay:
		if a.URL != "" {
			b.element("Play", a.URL)
		}
	case voicebot.ActPause:
		b.element("Pause", "", "length", strconv.Itoa(seconds(a.Length)))
	}
}

// twilioVoice reports whether v names a voice Twilio's Say knows: the
// classic ones and the Amazon Polly and Google families. Other engines'
// voice names (espeak's) are left to Twilio's default.
func twilioVoice(v string) bool {
	switch v {
	case "alice", "man", "woman":
		return true
	}
	return strings.HasPrefix(v, "Polly.") || strings.HasPrefix(v, "Google.")
}

// gather writes a Gather with the prompts nested inside. actionOnEmptyResult
// makes Twilio post an empty result on timeout instead of falling through,
// so the flow hears of the timeout.
func (b *twimlBuilder) gather(g *voicebot.GatherSpec, action string, prompts []voicebot.Action) {
	var spec voicebot.GatherSpec
	if g != nil {
		spec = *g
	}
	var input []string
	if spec.DTMF || !spec.Speech {
		input = append(input, "dtmf")
	}
	if spec.Speech {
		input = append(input, "speech")
	}
	attrs := []string{"input", strings.Join(input, " ")}
	if spec.MaxDigits > 0 {
		attrs = append(attrs, "numDigits", strconv.Itoa(spec.MaxDigits))
	}
	attrs = append(attrs, "finishOnKey", spec.FinishOnKey)
	if spec.Timeout > 0 {
		attrs = append(attrs, "timeout", strconv.Itoa(seconds(spec.Timeout)))
	}
	attrs = append(attrs, "action", action, "method", http.MethodPost, "actionOnEmptyResult", "true")
	if spec.Speech {
		attrs = append(attrs, "language", spec.Language, "speechTimeout", "auto")
	}
	b.open("Gather", attrs...)
	if len(prompts) == 0 {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	for _, p := range prompts {
		b.prompt(p)
	}
	b.WriteString("</Gather>")
}

// record writes a Record whose result Twilio posts to action.
func (b *twimlBuilder) record(r *voicebot.RecordSpec, action string) {
	var spec voicebot.RecordSpec
	if r != nil {
		spec = *r
	}
	attrs := []string{"action", action, "method", http.MethodPost}
	if spec.MaxLength > 0 {
		attrs = append(attrs, "maxLength", strconv.Itoa(seconds(spec.MaxLength)))
	}
	attrs = append(attrs, "finishOnKey", spec.FinishOnKey)
	if spec.Timeout > 0 {
		attrs = append(attrs, "timeout", strconv.Itoa(seconds(spec.Timeout)))
	}
	attrs = append(attrs, "playBeep", "true")
	b.element("Record", "", attrs...)
}

// dial writes a Dial to a number or a SIP URI; Twilio posts the dialled
// leg's outcome to action when it ends.
func (b *twimlBuilder) dial(to, action string) {
	b.open("Dial", "action", action, "method", http.MethodPost)
	b.WriteByte('>')
	if strings.HasPrefix(strings.ToLower(to), "sip:") {
		b.element("Sip", to)
	} else {
		b.element("Number", to)
	}
	b.WriteString("</Dial>")
}

// seconds rounds d up to whole seconds, at least 1: TwiML counts in
// seconds and 0 means "no limit" or is invalid for most attributes.
func seconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}
