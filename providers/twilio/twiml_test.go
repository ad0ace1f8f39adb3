package twilio

import (
	"bytes"
	"encoding/xml"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/voicebot"
)

var testURLs = TwiMLURLs{
	Gather: "https://hooks.example.com/voice/ch_1?call=c1&step=gather",
	Record: "https://hooks.example.com/voice/ch_1?call=c1&step=record",
	Dial:   "https://hooks.example.com/voice/ch_1?call=c1&step=dial",
}

func say(text string) voicebot.Action { return voicebot.Action{Type: voicebot.ActSay, Text: text} }

func TestRenderTwiML(t *testing.T) {
	const head = `<?xml version="1.0" encoding="UTF-8"?><Response>`
	const gatherAttrs = ` action="https://hooks.example.com/voice/ch_1?call=c1&amp;step=gather" method="POST" actionOnEmptyResult="true"`
	tests := []struct {
		name    string
		actions []voicebot.Action
		ended   bool
		want    string
	}{
		{name: "empty", want: head + `</Response>`},
		{name: "empty ended", ended: true, want: head + `<Hangup/></Response>`},
		{name: "say plain", actions: []voicebot.Action{say("Hello World")}, want: head + `<Say>Hello World</Say></Response>`},
		{name: "say escaped", actions: []voicebot.Action{say(`Tom & Jerry <3 "quotes"`)},
			want: head + `<Say>Tom &amp; Jerry &lt;3 &#34;quotes&#34;</Say></Response>`},
		{name: "twilio voice and language", actions: []voicebot.Action{{Type: voicebot.ActSay, Text: "Hi", Voice: "Polly.Joanna", Language: "en-US"}},
			want: head + `<Say voice="Polly.Joanna" language="en-US">Hi</Say></Response>`},
		{name: "classic voice", actions: []voicebot.Action{{Type: voicebot.ActSay, Text: "Hi", Voice: "woman"}},
			want: head + `<Say voice="woman">Hi</Say></Response>`},
		{name: "google voice", actions: []voicebot.Action{{Type: voicebot.ActSay, Text: "Hi", Voice: "Google.en-US-Neural2-F"}},
			want: head + `<Say voice="Google.en-US-Neural2-F">Hi</Say></Response>`},
		{name: "espeak voice omitted", actions: []voicebot.Action{{Type: voicebot.ActSay, Text: "Hi", Voice: "en-us+f3", Language: "en-gb"}},
			want: head + `<Say language="en-gb">Hi</Say></Response>`},
		{name: "empty say skipped", actions: []voicebot.Action{say("")}, ended: true, want: head + `<Hangup/></Response>`},
		{name: "play and pause", actions: []voicebot.Action{
			{Type: voicebot.ActPlay, URL: "https://example.com/a.mp3?x=1&y=2"},
			{Type: voicebot.ActPause, Length: 1500 * time.Millisecond},
			{Type: voicebot.ActPause},
		}, want: head + `<Play>https://example.com/a.mp3?x=1&amp;y=2</Play><Pause length="2"/><Pause length="1"/></Response>`},
		{name: "ended appends hangup", actions: []voicebot.Action{say("Bye")}, ended: true,
			want: head + `<Say>Bye</Say><Hangup/></Response>`},
		{name: "explicit hangup not doubled, nothing after it", actions: []voicebot.Action{say("Bye"), {Type: voicebot.ActHangup}, say("never")}, ended: true,
			want: head + `<Say>Bye</Say><Hangup/></Response>`},
		{name: "gather dtmf with prompts nested", actions: []voicebot.Action{
			say("Welcome."),
			{Type: voicebot.ActPause, Length: time.Second},
			{Type: voicebot.ActSay, Text: "Press 1 for sales.", Voice: "alice"},
			{Type: voicebot.ActGather, Gather: &voicebot.GatherSpec{DTMF: true, MaxDigits: 1, FinishOnKey: "#", Timeout: 5 * time.Second}},
		}, want: head + `<Gather input="dtmf" numDigits="1" finishOnKey="#" timeout="5"` + gatherAttrs + `>` +
			`<Say>Welcome.</Say><Pause length="1"/><Say voice="alice">Press 1 for sales.</Say></Gather></Response>`},
		{name: "only the prompts right before the gather are nested", actions: []voicebot.Action{
			say("Hello"),
			{Type: voicebot.ActTransfer, To: "+15558675310"},
		}, want: head + `<Say>Hello</Say><Dial action="https://hooks.example.com/voice/ch_1?call=c1&amp;step=dial" method="POST"><Number>+15558675310</Number></Dial></Response>`},
		{name: "gather speech", actions: []voicebot.Action{
			{Type: voicebot.ActGather, Gather: &voicebot.GatherSpec{Speech: true, Language: "en-GB", Timeout: 2500 * time.Millisecond}},
		}, want: head + `<Gather input="speech" timeout="3"` + gatherAttrs + ` language="en-GB" speechTimeout="auto"/></Response>`},
		{name: "gather both, nothing follows, ended ignored", actions: []voicebot.Action{
			say("Say or press"),
			{Type: voicebot.ActGather, Gather: &voicebot.GatherSpec{DTMF: true, Speech: true}},
			say("never said"),
		}, ended: true, want: head + `<Gather input="dtmf speech"` + gatherAttrs + ` speechTimeout="auto"><Say>Say or press</Say></Gather></Response>`},
		{name: "gather without spec listens for dtmf", actions: []voicebot.Action{{Type: voicebot.ActGather}},
			want: head + `<Gather input="dtmf"` + gatherAttrs + `/></Response>`},
		{name: "record", actions: []voicebot.Action{
			say("Leave a message after the beep."),
			{Type: voicebot.ActRecord, Record: &voicebot.RecordSpec{MaxLength: 30 * time.Second, FinishOnKey: "*", Timeout: 3 * time.Second}},
		}, ended: true, want: head + `<Say>Leave a message after the beep.</Say><Record action="https://hooks.example.com/voice/ch_1?call=c1&amp;step=record" method="POST" maxLength="30" finishOnKey="*" timeout="3" playBeep="true"/></Response>`},
		{name: "transfer sip", actions: []voicebot.Action{{Type: voicebot.ActTransfer, To: "sip:agent@pbx.example.com;transport=tls"}}, ended: true,
			want: head + `<Dial action="https://hooks.example.com/voice/ch_1?call=c1&amp;step=dial" method="POST"><Sip>sip:agent@pbx.example.com;transport=tls</Sip></Dial></Response>`},
		{name: "unknown action skipped", actions: []voicebot.Action{{Type: "teleport"}, say("ok")},
			want: head + `<Say>ok</Say></Response>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RenderTwiML(tt.actions, testURLs, tt.ended)
			if string(got) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			wellFormed(t, got)
		})
	}
}

func TestRenderTwiMLEmptyURLsOmitAction(t *testing.T) {
	got := string(RenderTwiML([]voicebot.Action{{Type: voicebot.ActGather}}, TwiMLURLs{}, false))
	if strings.Contains(got, "action=") {
		t.Fatalf("action attribute without a URL: %s", got)
	}
}

func TestRenderRedirect(t *testing.T) {
	got := string(RenderRedirect("https://hooks.example.com/voice?call=c1&step=hangup"))
	want := `<?xml version="1.0" encoding="UTF-8"?><Response><Redirect method="POST">https://hooks.example.com/voice?call=c1&amp;step=hangup</Redirect></Response>`
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}

// TestRenderTwiMLFixtures compares with Twilio's documented TwiML and the
// SDK's serializations, as XML trees: attributes we never write (loop) are
// dropped from the fixture, and those we add (action, method…) from ours.
func TestRenderTwiMLFixtures(t *testing.T) {
	gather := voicebot.Action{Type: voicebot.ActGather, Gather: &voicebot.GatherSpec{DTMF: true, Speech: true, MaxDigits: 4, FinishOnKey: "#", Timeout: 5 * time.Second}}
	tests := []struct {
		name    string
		fixture string
		actions []voicebot.Action
		ended   bool
		drop    []string // attributes left out of both sides
	}{
		{name: "empty", fixture: "twiml/empty_response.xml"},
		{name: "hangup", fixture: "twiml/hangup.xml", actions: []voicebot.Action{{Type: voicebot.ActHangup}}},
		{name: "hangup when ended", fixture: "twiml/hangup.xml", ended: true},
		{name: "say", fixture: "twiml/say.xml", drop: []string{"loop"},
			actions: []voicebot.Action{{Type: voicebot.ActSay, Text: "Hello! Thanks for calling.", Voice: "woman", Language: "en-US"}}},
		{name: "play", fixture: "twiml/play.xml", drop: []string{"loop"},
			actions: []voicebot.Action{{Type: voicebot.ActPlay, URL: "https://api.twilio.com/cowbell.mp3"}}},
		{name: "sdk say", fixture: "sdk:0", actions: []voicebot.Action{say("Hello World")}},
		{name: "sdk say language", fixture: "sdk:2", actions: []voicebot.Action{{Type: voicebot.ActSay, Text: "Hello Monkey", Language: "en-gb"}}},
		{name: "sdk play", fixture: "sdk:3", actions: []voicebot.Action{{Type: voicebot.ActPlay, URL: "http://hellomonkey.mp3"}}},
		{name: "sdk gather voice", fixture: "sdk:6", drop: []string{"input", "action", "method", "actionOnEmptyResult"},
			actions: []voicebot.Action{{Type: voicebot.ActSay, Text: "Hello", Voice: "man"}, {Type: voicebot.ActGather}}},
		{name: "sdk dial number", fixture: "sdk:9", drop: []string{"action", "method"},
			actions: []voicebot.Action{{Type: voicebot.ActTransfer, To: "1231231234"}}},
		{name: "sdk hangup", fixture: "sdk:12", actions: []voicebot.Action{{Type: voicebot.ActHangup}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []byte
			if n, ok := strings.CutPrefix(tt.fixture, "sdk:"); ok {
				i, _ := strconv.Atoi(n)
				want = []byte(sdkExample(t, i))
			} else {
				want = fixture(t, tt.fixture)
			}
			got := RenderTwiML(tt.actions, testURLs, tt.ended)
			if g, w := canonical(t, got, tt.drop), canonical(t, want, tt.drop); g != w {
				t.Errorf("got  %s\nwant %s\n(rendered %s)", g, w, got)
			}
		})
	}

	// gather.xml's Gather, with what follows it cut: we never render
	// anything after a Gather.
	got := canonical(t, RenderTwiML([]voicebot.Action{say("Please enter your account number, followed by the pound sign."), gather}, testURLs, false),
		[]string{"action", "actionOnEmptyResult", "speechTimeout"})
	want := canonical(t, fixture(t, "twiml/gather.xml"), []string{"action"})
	want = strings.Replace(want, "<Say>We didn&#39;t receive any input. Goodbye!</Say>", "", 1)
	if got != want {
		t.Errorf("gather:\ngot  %s\nwant %s", got, want)
	}
}

// sdkExample returns line n (0-based) of the SDK's serialization examples.
func sdkExample(t *testing.T, n int) string {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(string(fixture(t, "twiml/sdk_serialization_examples.txt")), "\n") {
		if strings.HasPrefix(l, "<?xml") {
			lines = append(lines, l)
		}
	}
	if n >= len(lines) {
		t.Fatalf("no SDK example %d", n)
	}
	return lines[n]
}

// canonical rewrites an XML document as compact XML with attributes
// sorted, text trimmed and the attributes in drop removed.
func canonical(t *testing.T, doc []byte, drop []string) string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	var b strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			b.WriteString("<" + tok.Name.Local)
			attrs := slices.DeleteFunc(slices.Clone(tok.Attr), func(a xml.Attr) bool { return slices.Contains(drop, a.Name.Local) })
			slices.SortFunc(attrs, func(a, c xml.Attr) int { return strings.Compare(a.Name.Local, c.Name.Local) })
			for _, a := range attrs {
				b.WriteString(" " + a.Name.Local + `="`)
				xml.EscapeText(&b, []byte(a.Value))
				b.WriteString(`"`)
			}
			b.WriteString(">")
		case xml.EndElement:
			b.WriteString("</" + tok.Name.Local + ">")
		case xml.CharData:
			xml.EscapeText(&b, bytes.TrimSpace(tok))
		}
	}
	return b.String()
}

// wellFormed checks doc parses as one <Response> element after the XML
// declaration.
func wellFormed(t *testing.T, doc []byte) {
	t.Helper()
	if !bytes.HasPrefix(doc, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
		t.Errorf("no XML declaration: %s", doc)
	}
	var root struct{ XMLName xml.Name }
	if err := xml.Unmarshal(doc, &root); err != nil || root.XMLName.Local != "Response" {
		t.Errorf("not a <Response> document (%v): %s", err, doc)
	}
}
