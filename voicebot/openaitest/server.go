// Package openaitest is a fake OpenAI-compatible API for tests: chat
// completions, audio transcriptions and speech, answering in OpenAI's
// documented shapes. It checks the bearer token and validates request
// bodies, records what it received, and can be scripted to reply with
// given texts, answer slowly or fail.
package openaitest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// ChatMessage is one message of a chat completion request.
type ChatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	Name    string `json:"name,omitempty"`
}

// ChatCompletionRequest is what the server received on /chat/completions.
type ChatCompletionRequest struct {
	Model       string        `json:"model"`
	Messages    []ChatMessage `json:"messages"`
	Temperature *float64      `json:"temperature,omitempty"`
	MaxTokens   *int          `json:"max_tokens,omitempty"`
	Stream      bool          `json:"stream,omitempty"`
}

// TranscriptionRequest is what the server received on
// /audio/transcriptions.
type TranscriptionRequest struct {
	Model          string
	Language       string
	ResponseFormat string
	Prompt         string
	Filename       string
	ContentType    string // of the file part
	Audio          []byte // the uploaded file, checked to be a PCM WAV
}

// SpeechRequest is what the server received on /audio/speech.
type SpeechRequest struct {
	Model          string  `json:"model"`
	Input          string  `json:"input"`
	Voice          string  `json:"voice"`
	ResponseFormat string  `json:"response_format,omitempty"`
	Speed          float64 `json:"speed,omitempty"`
}

// SpeechRate is the sample rate of the fake's speech: OpenAI's pcm format.
const SpeechRate = 24000

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	srv    *httptest.Server
	apiKey string

	mu             sync.Mutex
	replies        []string
	delay          time.Duration
	failures       []failure
	transcript     string
	chats          []ChatCompletionRequest
	transcriptions []TranscriptionRequest
	speeches       []SpeechRequest
	seq            int
}

type failure struct {
	status  int
	message string
}

// New starts a fake whose clients must send "Authorization: Bearer
// apiKey" (any or none when apiKey is ""). It is closed when the test ends.
func New(t testing.TB, apiKey string) *Server {
	t.Helper()
	s := &Server{apiKey: apiKey, transcript: "hello"}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	mux.HandleFunc("POST /v1/audio/transcriptions", s.transcribe)
	mux.HandleFunc("POST /v1/audio/speech", s.speech)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "invalid_request_error", nil, fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path))
	})
	s.srv = httptest.NewServer(s.guard(mux))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the base URL, including /v1.
func (s *Server) URL() string { return s.srv.URL + "/v1" }

// Reply queues chat replies, answered first in first out. With none
// queued the server echoes "You said: <last user message>".
func (s *Server) Reply(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies = append(s.replies, text)
}

// SetDelay delays every answer by d (or until the client gives up).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// FailNext makes the next valid request, on any endpoint, fail with status
// and message in OpenAI's error shape. Calls queue up.
func (s *Server) FailNext(status int, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, failure{status, message})
}

// Transcript sets what /audio/transcriptions answers (default "hello").
func (s *Server) Transcript(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.transcript = text
}

// ChatRequests returns the valid chat requests received, in order.
func (s *Server) ChatRequests() []ChatCompletionRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ChatCompletionRequest(nil), s.chats...)
}

// TranscriptionRequests returns the valid transcription requests received.
func (s *Server) TranscriptionRequests() []TranscriptionRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]TranscriptionRequest(nil), s.transcriptions...)
}

// SpeechRequests returns the valid speech requests received.
func (s *Server) SpeechRequests() []SpeechRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SpeechRequest(nil), s.speeches...)
}

// guard checks the bearer token before any route, as OpenAI does.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.apiKey != "" {
			auth := r.Header.Get("Authorization")
			if auth == "" {
				writeError(w, http.StatusUnauthorized, "invalid_request_error", nil,
					"You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
				return
			}
			if auth != "Bearer "+s.apiKey {
				code := "invalid_api_key"
				writeError(w, http.StatusUnauthorized, "invalid_request_error", &code,
					"Incorrect API key provided: "+redact(strings.TrimPrefix(auth, "Bearer "))+".")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func redact(key string) string {
	if len(key) <= 8 {
		return "****"
	}
	return key[:3] + "****" + key[len(key)-4:]
}

// answer applies the scripted delay and failure; it reports false when
// the request was answered (failed) or abandoned.
func (s *Server) answer(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	delay := s.delay
	var fail *failure
	if len(s.failures) > 0 {
		fail = &s.failures[0]
		s.failures = s.failures[1:]
	}
	s.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return false
		}
	}
	if fail != nil {
		typ, code := errorKind(fail.status)
		writeError(w, fail.status, typ, code, fail.message)
		return false
	}
	return true
}

// errorKind picks the type and code OpenAI uses for a status.
func errorKind(status int) (string, *string) {
	str := func(s string) *string { return &s }
	switch {
	case status == http.StatusUnauthorized:
		return "invalid_request_error", str("invalid_api_key")
	case status == http.StatusForbidden:
		return "invalid_request_error", str("unsupported_country_region_territory")
	case status == http.StatusNotFound:
		return "invalid_request_error", str("model_not_found")
	case status == http.StatusTooManyRequests:
		return "requests", str("rate_limit_exceeded")
	case status >= 500:
		return "server_error", nil
	default:
		return "invalid_request_error", nil
	}
}

func writeError(w http.ResponseWriter, status int, typ string, code *string, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"message": message,
		"type":    typ,
		"param":   nil,
		"code":    code,
	}})
}

func invalid(w http.ResponseWriter, format string, args ...any) {
	writeError(w, http.StatusBadRequest, "invalid_request_error", nil, fmt.Sprintf(format, args...))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) next() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return s.seq
}

var validRoles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	var raw struct {
		Model    string `json:"model"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
			Name    string          `json:"name"`
		} `json:"messages"`
		Temperature         *float64 `json:"temperature"`
		MaxTokens           *int     `json:"max_tokens"`
		MaxCompletionTokens *int     `json:"max_completion_tokens"`
		Stream              bool     `json:"stream"`
	}
	if !decodeJSON(w, r, &raw) {
		return
	}
	req := ChatCompletionRequest{Model: raw.Model, Temperature: raw.Temperature, MaxTokens: raw.MaxTokens, Stream: raw.Stream}
	if req.MaxTokens == nil {
		req.MaxTokens = raw.MaxCompletionTokens
	}
	switch {
	case req.Model == "":
		invalid(w, "you must provide a model parameter")
		return
	case len(raw.Messages) == 0:
		invalid(w, "[] is too short - 'messages'")
		return
	case req.Stream:
		invalid(w, "openaitest: streaming is not supported by the fake")
		return
	case req.Temperature != nil && (*req.Temperature < 0 || *req.Temperature > 2):
		invalid(w, "%g is greater than the maximum of 2 - 'temperature'", *req.Temperature)
		return
	case req.MaxTokens != nil && *req.MaxTokens < 1:
		invalid(w, "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got %d instead.", *req.MaxTokens)
		return
	}
	for i, m := range raw.Messages {
		if !validRoles[m.Role] {
			invalid(w, "Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'tool', and 'developer'. - 'messages[%d].role'", m.Role, i)
			return
		}
		content, ok := textContent(m.Content)
		if !ok && m.Role != "assistant" {
			invalid(w, "Invalid 'messages[%d].content': expected a string or an array of text parts.", i)
			return
		}
		req.Messages = append(req.Messages, ChatMessage{Role: m.Role, Content: content, Name: m.Name})
	}
	s.mu.Lock()
	s.chats = append(s.chats, req)
	s.mu.Unlock()
	if !s.answer(w, r) {
		return
	}

	s.mu.Lock()
	var reply string
	if len(s.replies) > 0 {
		reply, s.replies = s.replies[0], s.replies[1:]
	} else {
		last := ""
		for _, m := range req.Messages {
			if m.Role == "user" {
				last = m.Content
			}
		}
		reply = "You said: " + last
	}
	s.mu.Unlock()

	prompt := 0
	for _, m := range req.Messages {
		prompt += tokens(m.Content) + 4
	}
	completion := tokens(reply)
	writeJSON(w, http.StatusOK, map[string]any{
		"id":                 fmt.Sprintf("chatcmpl-fake%06d", s.next()),
		"object":             "chat.completion",
		"created":            time.Now().Unix(),
		"model":              req.Model,
		"system_fingerprint": "fp_openaitest",
		"choices": []map[string]any{{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": reply, "refusal": nil},
			"logprobs":      nil,
			"finish_reason": "stop",
		}},
		"usage": map[string]int{
			"prompt_tokens":     prompt,
			"completion_tokens": completion,
			"total_tokens":      prompt + completion,
		},
	})
}

// textContent accepts a message content as a string or as an array of
// {"type":"text","text":…} parts.
func textContent(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil || len(parts) == 0 {
		return "", false
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type != "text" {
			return "", false
		}
		b.WriteString(p.Text)
	}
	return b.String(), true
}

// tokens is a rough token count: about four characters a token.
func tokens(s string) int {
	return (utf8.RuneCountInString(s) + 3) / 4
}

func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		invalid(w, "openaitest: Content-Type must be application/json, got %q", r.Header.Get("Content-Type"))
		return false
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(v); err != nil {
		invalid(w, "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.) %v", err)
		return false
	}
	return true
}

func (s *Server) transcribe(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		invalid(w, "openaitest: want a multipart/form-data body: %v", err)
		return
	}
	file, header, err := r.FormFile("file")
	if err != nil {
		invalid(w, "1 validation error for Request\nbody -> file\n  field required (type=value_error.missing)")
		return
	}
	audio, err := io.ReadAll(file)
	file.Close()
	if err != nil {
		invalid(w, "openaitest: read file: %v", err)
		return
	}
	req := TranscriptionRequest{
		Model:          r.FormValue("model"),
		Language:       r.FormValue("language"),
		ResponseFormat: r.FormValue("response_format"),
		Prompt:         r.FormValue("prompt"),
		Filename:       header.Filename,
		ContentType:    header.Header.Get("Content-Type"),
		Audio:          audio,
	}
	if req.ResponseFormat == "" {
		req.ResponseFormat = "json"
	}
	switch {
	case req.Model == "":
		invalid(w, "1 validation error for Request\nbody -> model\n  field required (type=value_error.missing)")
		return
	case req.Language != "" && !isISO639_1(req.Language):
		invalid(w, "Invalid language '%s'. Language parameter must be specified in ISO-639-1 format.", req.Language)
		return
	case req.ResponseFormat != "json" && req.ResponseFormat != "text" && req.ResponseFormat != "verbose_json":
		invalid(w, "openaitest: response_format %q is not supported by the fake (json, text, verbose_json)", req.ResponseFormat)
		return
	}
	seconds, err := checkWAV(audio)
	if err != nil {
		invalid(w, "Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm'] (openaitest: %v)", err)
		return
	}
	s.mu.Lock()
	s.transcriptions = append(s.transcriptions, req)
	text := s.transcript
	s.mu.Unlock()
	if !s.answer(w, r) {
		return
	}
	switch req.ResponseFormat {
	case "text":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, text+"\n")
	case "verbose_json":
		lang := req.Language
		if lang == "" {
			lang = "english"
		}
		writeJSON(w, http.StatusOK, map[string]any{"task": "transcribe", "language": lang, "duration": seconds, "text": text, "segments": []any{}})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"text": text, "usage": map[string]any{"type": "duration", "seconds": math.Ceil(seconds)}})
	}
}

func isISO639_1(s string) bool {
	return len(s) == 2 && s[0] >= 'a' && s[0] <= 'z' && s[1] >= 'a' && s[1] <= 'z'
}

// checkWAV verifies a RIFF/WAVE file with a PCM fmt chunk and a data
// chunk, and returns its duration in seconds.
func checkWAV(b []byte) (float64, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return 0, fmt.Errorf("not a RIFF/WAVE file")
	}
	le := binary.LittleEndian
	byteRate := 0
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(le.Uint32(b[off+4:]))
		body := off + 8
		if size > len(b)-body {
			size = len(b) - body
		}
		switch id {
		case "fmt ":
			if size < 16 {
				return 0, fmt.Errorf("short fmt chunk")
			}
			if f := le.Uint16(b[body:]); f != 1 && f != 0xFFFE {
				return 0, fmt.Errorf("wav format %d is not PCM", f)
			}
			byteRate = int(le.Uint32(b[body+8:]))
		case "data":
			if byteRate == 0 {
				return 0, fmt.Errorf("data chunk before fmt chunk")
			}
			return float64(size) / float64(byteRate), nil
		}
		off = body + size + size&1
	}
	return 0, fmt.Errorf("no data chunk")
}

func (s *Server) speech(w http.ResponseWriter, r *http.Request) {
	var req SpeechRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.ResponseFormat == "" {
		req.ResponseFormat = "mp3"
	}
	switch {
	case req.Model == "":
		invalid(w, "you must provide a model parameter")
		return
	case req.Input == "":
		invalid(w, "[] is too short - 'input'")
		return
	case utf8.RuneCountInString(req.Input) > 4096:
		invalid(w, "string too long. Expected a string with maximum length 4096, but got a string with length %d instead.", utf8.RuneCountInString(req.Input))
		return
	case req.Voice == "":
		invalid(w, "you must provide a voice parameter")
		return
	case req.ResponseFormat != "pcm" && req.ResponseFormat != "wav":
		invalid(w, "openaitest: response_format %q is not supported by the fake (pcm, wav)", req.ResponseFormat)
		return
	case req.Speed != 0 && (req.Speed < 0.25 || req.Speed > 4):
		invalid(w, "Invalid 'speed': must be between 0.25 and 4.0.")
		return
	}
	s.mu.Lock()
	s.speeches = append(s.speeches, req)
	s.mu.Unlock()
	if !s.answer(w, r) {
		return
	}
	pcm := Tone(req.Input)
	if req.ResponseFormat == "wav" {
		w.Header().Set("Content-Type", "audio/wav")
		w.Write(wavHeader(len(pcm)))
	} else {
		w.Header().Set("Content-Type", "audio/pcm")
	}
	w.Write(pcm)
}

// ToneDuration is how long the fake's speech for input lasts: 100 ms plus
// 50 ms a character.
func ToneDuration(input string) time.Duration {
	return 100*time.Millisecond + time.Duration(utf8.RuneCountInString(input))*50*time.Millisecond
}

// Tone is the fake's speech for input: a 440 Hz sine at half scale, as
// raw PCM16 LE mono at SpeechRate, ToneDuration(input) long.
func Tone(input string) []byte {
	n := int(ToneDuration(input) * SpeechRate / time.Second)
	var b bytes.Buffer
	b.Grow(2 * n)
	for i := 0; i < n; i++ {
		v := int16(16384 * math.Sin(2*math.Pi*440*float64(i)/SpeechRate))
		b.WriteByte(byte(v))
		b.WriteByte(byte(uint16(v) >> 8))
	}
	return b.Bytes()
}

func wavHeader(dataLen int) []byte {
	h := make([]byte, 44)
	le := binary.LittleEndian
	copy(h[0:], "RIFF")
	le.PutUint32(h[4:], uint32(36+dataLen))
	copy(h[8:], "WAVEfmt ")
	le.PutUint32(h[16:], 16)
	le.PutUint16(h[20:], 1)
	le.PutUint16(h[22:], 1)
	le.PutUint32(h[24:], SpeechRate)
	le.PutUint32(h[28:], SpeechRate*2)
	le.PutUint16(h[32:], 2)
	le.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	le.PutUint32(h[40:], uint32(dataLen))
	return h
}
