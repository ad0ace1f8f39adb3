package openaitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"
)

func post(t *testing.T, url, key, contentType string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

type errorBody struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func decodeError(t *testing.T, b []byte) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Message == "" || e.Error.Type == "" {
		t.Fatalf("not an OpenAI error: %s", b)
	}
	return e
}

func TestAuth(t *testing.T) {
	s := New(t, "sk-secret")
	body := []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	tests := []struct {
		name, key, wantMsg string
		wantCode           *string
	}{
		{"missing", "", "You didn't provide an API key", nil},
		{"wrong", "sk-wrong-0000", "Incorrect API key provided: sk-****0000", ptr("invalid_api_key")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, b := post(t, s.URL()+"/chat/completions", tt.key, "application/json", body)
			if status != 401 {
				t.Fatalf("status %d", status)
			}
			e := decodeError(t, b)
			if !strings.Contains(e.Error.Message, tt.wantMsg) || e.Error.Type != "invalid_request_error" ||
				(e.Error.Code == nil) != (tt.wantCode == nil) || (e.Error.Code != nil && *e.Error.Code != *tt.wantCode) {
				t.Errorf("got %s", b)
			}
		})
	}
	if status, _, b := post(t, s.URL()+"/completions", "sk-secret", "application/json", body); status != 404 || !strings.Contains(decodeError(t, b).Error.Message, "Invalid URL") {
		t.Errorf("unknown route: %d %s", status, b)
	}
	if len(s.ChatRequests()) != 0 {
		t.Error("unauthorised requests must not be recorded")
	}
	open := New(t, "")
	if status, _, b := post(t, open.URL()+"/chat/completions", "", "application/json", body); status != 200 {
		t.Errorf("no key configured: %d %s", status, b)
	}
}

func ptr[T any](v T) *T { return &v }

func TestChatCompletion(t *testing.T) {
	s := New(t, "k")
	s.Reply("first")
	s.Reply("second")
	chat := func(content string) map[string]any {
		body := `{"model":"gpt-4o-mini","temperature":0.2,"max_tokens":20,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":` + content + `}]}`
		status, h, b := post(t, s.URL()+"/chat/completions", "k", "application/json", []byte(body))
		if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
			t.Fatalf("status %d: %s", status, b)
		}
		var out map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	reply := func(out map[string]any) string {
		return out["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"].(string)
	}
	first := chat(`"hello"`)
	if reply(first) != "first" || reply(chat(`"hello"`)) != "second" {
		t.Error("replies must come first in, first out")
	}
	if got := reply(chat(`[{"type":"text","text":"part one "},{"type":"text","text":"two"}]`)); got != "You said: part one two" {
		t.Errorf("echo = %q", got)
	}
	// The documented shape.
	if !strings.HasPrefix(first["id"].(string), "chatcmpl-") || first["object"] != "chat.completion" ||
		first["model"] != "gpt-4o-mini" || first["created"].(float64) < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("envelope: %v", first)
	}
	choice := first["choices"].([]any)[0].(map[string]any)
	if choice["index"].(float64) != 0 || choice["finish_reason"] != "stop" || choice["message"].(map[string]any)["role"] != "assistant" {
		t.Errorf("choice: %v", choice)
	}
	usage := first["usage"].(map[string]any)
	if usage["total_tokens"].(float64) != usage["prompt_tokens"].(float64)+usage["completion_tokens"].(float64) || usage["prompt_tokens"].(float64) == 0 {
		t.Errorf("usage: %v", usage)
	}
	reqs := s.ChatRequests()
	if len(reqs) != 3 || reqs[0].Model != "gpt-4o-mini" || *reqs[0].Temperature != 0.2 || *reqs[0].MaxTokens != 20 ||
		reqs[0].Messages[0] != (ChatMessage{Role: "system", Content: "be brief"}) || reqs[2].Messages[1].Content != "part one two" {
		t.Errorf("recorded: %+v", reqs)
	}
}

func TestChatValidation(t *testing.T) {
	s := New(t, "k")
	tests := []struct{ name, body, want string }{
		{"no model", `{"messages":[{"role":"user","content":"hi"}]}`, "model"},
		{"no messages", `{"model":"m","messages":[]}`, "'messages'"},
		{"bad role", `{"model":"m","messages":[{"role":"bot","content":"hi"}]}`, "messages[0].role"},
		{"no content", `{"model":"m","messages":[{"role":"user"}]}`, "messages[0].content"},
		{"temperature", `{"model":"m","temperature":3,"messages":[{"role":"user","content":"hi"}]}`, "temperature"},
		{"max tokens", `{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}`, "max_tokens"},
		{"stream", `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`, "streaming"},
		{"broken json", `{"model":`, "parse the JSON body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, b := post(t, s.URL()+"/chat/completions", "k", "application/json", []byte(tt.body))
			if status != 400 || !strings.Contains(decodeError(t, b).Error.Message, tt.want) {
				t.Errorf("%d %s, want 400 mentioning %q", status, b, tt.want)
			}
		})
	}
	if n := len(s.ChatRequests()); n != 0 {
		t.Errorf("%d invalid requests recorded", n)
	}
}

func TestFailNextAndDelay(t *testing.T) {
	s := New(t, "k")
	body := []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	s.FailNext(429, "Rate limit reached")
	s.FailNext(503, "overloaded")
	for _, want := range []struct {
		status int
		typ    string
	}{{429, "requests"}, {503, "server_error"}} {
		status, _, b := post(t, s.URL()+"/chat/completions", "k", "application/json", body)
		if e := decodeError(t, b); status != want.status || e.Error.Type != want.typ {
			t.Errorf("got %d %s, want %d %s", status, b, want.status, want.typ)
		}
	}
	if status, _, _ := post(t, s.URL()+"/chat/completions", "k", "application/json", body); status != 200 {
		t.Errorf("failures should be used up, got %d", status)
	}

	s.SetDelay(150 * time.Millisecond)
	start := time.Now()
	post(t, s.URL()+"/chat/completions", "k", "application/json", body)
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Errorf("answered after %v, want ≥150ms", el)
	}
	s.SetDelay(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/chat/completions", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer k")
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v", err)
	}
	// Cleanup must not hang on the abandoned request.
}

func multipartBody(t *testing.T, fields map[string]string, file []byte) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if file != nil {
		fw, _ := mw.CreateFormFile("file", "audio.wav")
		fw.Write(file)
	}
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

func TestTranscriptions(t *testing.T) {
	s := New(t, "k")
	wav := append(wavHeader(16000), make([]byte, 16000)...) // 1/3 s at 24 kHz
	tests := []struct {
		name   string
		fields map[string]string
		file   []byte
		status int
		want   string
	}{
		{"json", map[string]string{"model": "whisper-1", "language": "en"}, wav, 200, `"text":"hello"`},
		{"text", map[string]string{"model": "whisper-1", "response_format": "text"}, wav, 200, "hello\n"},
		{"verbose", map[string]string{"model": "whisper-1", "response_format": "verbose_json"}, wav, 200, `"task":"transcribe"`},
		{"no file", map[string]string{"model": "whisper-1"}, nil, 400, "file"},
		{"no model", map[string]string{}, wav, 400, "model"},
		{"bcp47 language", map[string]string{"model": "whisper-1", "language": "en-US"}, wav, 400, "ISO-639-1"},
		{"not a wav", map[string]string{"model": "whisper-1"}, []byte("ID3 mp3 bytes"), 400, "Invalid file format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ct := multipartBody(t, tt.fields, tt.file)
			status, _, b := post(t, s.URL()+"/audio/transcriptions", "k", ct, body)
			if status != tt.status || !strings.Contains(string(b), tt.want) {
				t.Errorf("%d %s, want %d containing %q", status, b, tt.status, tt.want)
			}
		})
	}
	s.Transcript("two")
	body, ct := multipartBody(t, map[string]string{"model": "whisper-1"}, wav)
	if _, _, b := post(t, s.URL()+"/audio/transcriptions", "k", ct, body); !strings.Contains(string(b), `"text":"two"`) {
		t.Errorf("Transcript not applied: %s", b)
	}
	reqs := s.TranscriptionRequests()
	if len(reqs) != 4 || reqs[0].Language != "en" || !bytes.Equal(reqs[0].Audio, wav) || reqs[0].Filename != "audio.wav" {
		t.Errorf("recorded %d: %+v", len(reqs), reqs[0].Language)
	}
}

func TestSpeech(t *testing.T) {
	s := New(t, "k")
	speak := func(body string) (int, http.Header, []byte) {
		return post(t, s.URL()+"/audio/speech", "k", "application/json", []byte(body))
	}
	status, h, short := speak(`{"model":"tts-1","input":"Hi","voice":"alloy","response_format":"pcm"}`)
	if status != 200 || h.Get("Content-Type") != "audio/pcm" {
		t.Fatalf("%d %s", status, short)
	}
	_, _, long := speak(`{"model":"tts-1","input":"Hello, how can I help you today?","voice":"alloy","response_format":"pcm"}`)
	if want := int(ToneDuration("Hi") * SpeechRate / time.Second * 2); len(short) != want {
		t.Errorf("short: %d bytes, want %d", len(short), want)
	}
	if len(long) <= len(short) {
		t.Error("longer input must give longer audio")
	}
	nonzero := 0
	for _, c := range short {
		if c != 0 {
			nonzero++
		}
	}
	if nonzero < len(short)/2 {
		t.Error("tone is silent")
	}
	status, h, wav := speak(`{"model":"tts-1","input":"Hi","voice":"alloy","response_format":"wav"}`)
	if status != 200 || h.Get("Content-Type") != "audio/wav" || len(wav) != len(short)+44 {
		t.Errorf("wav: %d %s %d bytes", status, h.Get("Content-Type"), len(wav))
	}
	if secs, err := checkWAV(wav); err != nil || secs < 0.19 || secs > 0.21 {
		t.Errorf("wav: %v %v", secs, err)
	}
	for _, body := range []string{
		`{"input":"Hi","voice":"alloy","response_format":"pcm"}`,
		`{"model":"tts-1","voice":"alloy","response_format":"pcm"}`,
		`{"model":"tts-1","input":"Hi","response_format":"pcm"}`,
		`{"model":"tts-1","input":"Hi","voice":"alloy"}`, // mp3 by default: not faked
		`{"model":"tts-1","input":"` + strings.Repeat("a", 4097) + `","voice":"alloy","response_format":"pcm"}`,
	} {
		if status, _, b := speak(body); status != 400 {
			t.Errorf("%.60s: %d %s", body, status, b)
		}
	}
	if got := s.SpeechRequests(); len(got) != 3 || got[0].Voice != "alloy" || got[1].Input != "Hello, how can I help you today?" {
		t.Errorf("recorded %+v", got)
	}
}
