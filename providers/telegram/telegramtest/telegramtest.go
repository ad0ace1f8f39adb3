// Package telegramtest is a fake Telegram Bot API for end-to-end tests, in
// the manner of net/http/httptest: a Server plays api.telegram.org for one
// bot, records every call, answers the way the Bot API answers (its
// envelope, its error strings, its Retry-After), can be scripted to fail
// the next sends, and delivers updates to a webhook the way Telegram does.
//
// It speaks the wire format, not our provider package: it imports nothing
// of it, so a test that passes against it passes against what Telegram
// documents, not against what we happened to write.
package telegramtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is a fake Bot API server for one bot. Point the client's base URL
// at URL: requests go to URL + "/bot<token>/<method>".
type Server struct {
	URL string
	// Token is the one bot token the server accepts; any other well-formed
	// token is refused 401 "Unauthorized", as a revoked one is.
	Token string
	// Bot is what getMe reports and what sent messages come "from"; its id
	// is the number before the token's colon.
	Bot User

	srv  *httptest.Server
	done chan struct{} // closed by Close: releases hanging replies

	mu       sync.Mutex
	requests []Request
	failures []Reply // answers to the next sends, in order
	webhook  Webhook
	strict   bool  // setWebhook refuses URLs Telegram refuses
	nextMsg  int64 // message_id of the next message in any chat
	nextUpd  int64 // update_id of the next update delivered
}

// Request is one call the server received.
type Request struct {
	HTTPMethod string      // GET or POST
	Path       string      // the URL path, token included
	Method     string      // the Bot API method, as named in the path ("sendMessage")
	Header     http.Header // the request's headers
	// Params are the call's parameters: a JSON body decoded with
	// json.Number for numbers (so chat_id 4242 is json.Number("4242") and
	// "4242" is a string), or form and query values as strings.
	Params   map[string]any
	Status   int       // the HTTP status the server answered
	Response []byte    // the body it answered with
	At       time.Time // when it arrived
}

// Param returns parameter name as text: a string as is, a number in its
// JSON digits, anything else (arrays, objects, booleans) as JSON; "" when
// absent.
func (r Request) Param(name string) string {
	switch v := r.Params[name].(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// Webhook is what the last setWebhook call registered.
type Webhook struct {
	URL                string
	SecretToken        string
	AllowedUpdates     []string
	DropPendingUpdates bool
	MaxConnections     int
}

// Reply is a scripted answer to a send: a Bot API error, or anything a
// proxy in front of it might answer.
type Reply struct {
	Code        int    // HTTP status and error_code
	Description string // the error's description
	// RetryAfter, in seconds, goes into parameters.retry_after and the
	// Retry-After header, as the Bot API sends both with a 429.
	RetryAfter int
	// Body, when set, is sent verbatim (Content-Type text/html) instead of
	// the Bot API envelope: a proxy's error page.
	Body string
	// Hang delays the answer this long, or until the client gives up.
	Hang time.Duration
}

// ServerError is the Bot API failing inside: worth retrying.
func ServerError() Reply { return Reply{Code: 500, Description: "Internal Server Error: restart"} }

// TooManyRequests is the Bot API's flood control, asking for a pause of
// seconds.
func TooManyRequests(seconds int) Reply {
	return Reply{Code: 429, Description: fmt.Sprintf("Too Many Requests: retry after %d", seconds), RetryAfter: seconds}
}

// BotBlocked is a private chat whose user blocked the bot.
func BotBlocked() Reply {
	return Reply{Code: 403, Description: "Forbidden: bot was blocked by the user"}
}

// UserDeactivated is a private chat whose user deleted their account.
func UserDeactivated() Reply { return Reply{Code: 403, Description: "Forbidden: user is deactivated"} }

// ChatNotFound is a chat id the bot has never seen.
func ChatNotFound() Reply { return Reply{Code: 400, Description: "Bad Request: chat not found"} }

// Hang answers 502 Bad Gateway after d, unless the client gave up first.
func Hang(d time.Duration) Reply {
	return Reply{Code: 502, Body: "<html><body><h1>502 Bad Gateway</h1></body></html>", Hang: d}
}

// tokenShape is a token as @BotFather issues it.
var tokenShape = regexp.MustCompile(`^([0-9]+):[A-Za-z0-9_-]{35,}$`)

// NewServer starts a fake Bot API for the bot with token and username
// (without "@"). The caller closes it.
func NewServer(token, username string) *Server {
	m := tokenShape.FindStringSubmatch(token)
	if m == nil {
		panic("telegramtest: token must look like <bot id>:<secret>")
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	s := &Server{
		Token: token,
		Bot:   User{ID: id, IsBot: true, FirstName: "Test Bot", Username: username},
		done:  make(chan struct{}), nextMsg: 1000, nextUpd: 500000,
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down, cutting short any hanging reply.
func (s *Server) Close() {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	s.srv.Close()
}

// FailNext makes the next n sends (sendMessage, sendPhoto, sendDocument…),
// whichever chat they go to, answer r instead of succeeding.
func (s *Server) FailNext(n int, r Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, r)
	}
}

// StrictWebhooks makes setWebhook refuse what Telegram refuses: a URL
// that is not HTTPS, or not on port 443, 80, 88 or 8443. It is off at
// first, since test servers listen on http://127.0.0.1:<any port>.
func (s *Server) StrictWebhooks(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.strict = on
}

// Requests returns the calls received of the Bot API method (compared
// case-insensitively, as Telegram does), or all of them when method is "".
func (s *Server) Requests(method string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.requests {
		if method == "" || strings.EqualFold(r.Method, method) {
			out = append(out, r)
		}
	}
	return out
}

// Sends returns the send calls received (sendMessage, sendPhoto, …), to
// any chat when chatID is "", else to that chat.
func (s *Server) Sends(chatID string) []Request {
	var out []Request
	for _, r := range s.Requests("") {
		if isSend(r.Method) && (chatID == "" || r.Param("chat_id") == chatID) {
			out = append(out, r)
		}
	}
	return out
}

// Webhook returns what setWebhook registered (zero after deleteWebhook).
func (s *Server) Webhook() Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhook
}

func isSend(method string) bool { return strings.HasPrefix(strings.ToLower(method), "send") }

// maxBody bounds the request body the fake reads (it takes no uploads).
const maxBody = 1 << 20

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	req := Request{HTTPMethod: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), At: time.Now()}
	status, header, body, hang := s.handle(r, &req)
	req.Status, req.Response = status, body
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	if hang > 0 {
		select {
		case <-time.After(hang):
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
	}
	for k, vs := range header {
		w.Header()[k] = vs
	}
	w.WriteHeader(status)
	w.Write(body)
}

// handle authenticates and answers one call.
func (s *Server) handle(r *http.Request, req *Request) (int, http.Header, []byte, time.Duration) {
	token, method, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/bot"), "/")
	if !strings.HasPrefix(r.URL.Path, "/bot") || !ok || strings.Contains(method, "/") {
		return apiError(Reply{Code: 404, Description: "Not Found"})
	}
	req.Method = method
	if !tokenShape.MatchString(token) {
		return apiError(Reply{Code: 401, Description: "Unauthorized: invalid token specified"})
	}
	if token != s.Token {
		return apiError(Reply{Code: 401, Description: "Unauthorized"})
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return apiError(Reply{Code: 405, Description: "Method Not Allowed"})
	}
	params, err := readParams(r)
	req.Params = params
	if err != nil {
		return apiError(Reply{Code: 400, Description: "Bad Request: " + err.Error()})
	}
	lower := strings.ToLower(method)
	if isSend(lower) {
		s.mu.Lock()
		var fail *Reply
		if len(s.failures) > 0 {
			fail, s.failures = &s.failures[0], s.failures[1:]
		}
		s.mu.Unlock()
		if fail != nil {
			return apiError(*fail)
		}
	}
	switch lower {
	case "getme":
		return ok200(s.Bot)
	case "setwebhook":
		return s.setWebhook(*req)
	case "deletewebhook":
		s.mu.Lock()
		had := s.webhook.URL != ""
		s.webhook = Webhook{}
		s.mu.Unlock()
		if had {
			return ok200(true, "Webhook was deleted")
		}
		return ok200(true, "Webhook is already deleted")
	case "getwebhookinfo":
		wh := s.Webhook()
		return ok200(map[string]any{"url": wh.URL, "has_custom_certificate": false, "pending_update_count": 0,
			"max_connections": wh.MaxConnections, "allowed_updates": wh.AllowedUpdates})
	case "sendmessage", "sendphoto", "senddocument":
		return s.send(lower, *req)
	}
	return apiError(Reply{Code: 404, Description: "Not Found: method not found"})
}

// readParams reads a call's parameters the ways the Bot API takes them:
// the query string, then a JSON or form body.
func readParams(r *http.Request) (map[string]any, error) {
	params := map[string]any{}
	for k, vs := range r.URL.Query() {
		params[k] = vs[0]
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return params, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			return params, fmt.Errorf("can't parse JSON object")
		}
		for k, v := range obj {
			params[k] = v
		}
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return params, fmt.Errorf("can't parse form")
		}
		for k, vs := range form {
			params[k] = vs[0]
		}
	}
	return params, nil
}

// secretShape is what setWebhook takes as secret_token.
var secretShape = regexp.MustCompile(`^[A-Za-z0-9_-]*$`)

func (s *Server) setWebhook(req Request) (int, http.Header, []byte, time.Duration) {
	raw := req.Param("url")
	secret := req.Param("secret_token")
	switch {
	case len(secret) > 256:
		return apiError(Reply{Code: 400, Description: "Bad Request: secret token is too long"})
	case !secretShape.MatchString(secret):
		return apiError(Reply{Code: 400, Description: "Bad Request: secret token contains unallowed characters"})
	}
	if raw == "" {
		s.mu.Lock()
		s.webhook = Webhook{}
		s.mu.Unlock()
		return ok200(true, "Webhook was deleted")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return apiError(Reply{Code: 400, Description: "Bad Request: invalid webhook URL specified"})
	}
	s.mu.Lock()
	strict := s.strict
	s.mu.Unlock()
	if strict {
		if u.Scheme != "https" {
			return apiError(Reply{Code: 400, Description: "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"})
		}
		if p := u.Port(); p != "" && p != "443" && p != "80" && p != "88" && p != "8443" {
			return apiError(Reply{Code: 400, Description: "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"})
		}
	}
	wh := Webhook{URL: raw, SecretToken: secret, MaxConnections: 40, DropPendingUpdates: req.Param("drop_pending_updates") == "true"}
	if v := req.Param("allowed_updates"); v != "" {
		if json.Unmarshal([]byte(v), &wh.AllowedUpdates) != nil {
			return apiError(Reply{Code: 400, Description: "Bad Request: can't parse allowed updates JSON object"})
		}
	}
	if n, err := strconv.Atoi(req.Param("max_connections")); err == nil {
		wh.MaxConnections = n
	}
	s.mu.Lock()
	same := s.webhook.URL == wh.URL
	s.webhook = wh
	s.mu.Unlock()
	if same {
		return ok200(true, "Webhook is already set")
	}
	return ok200(true, "Webhook was set")
}

// send answers sendMessage, sendPhoto and sendDocument with the Message
// Telegram would return.
func (s *Server) send(method string, req Request) (int, http.Header, []byte, time.Duration) {
	chatID := req.Param("chat_id")
	if chatID == "" {
		return apiError(Reply{Code: 400, Description: "Bad Request: chat_id is empty"})
	}
	id, err := strconv.ParseInt(chatID, 10, 64)
	channel := strings.HasPrefix(chatID, "@") // a public channel's @username
	if (err != nil || id == 0) && !channel {
		return apiError(ChatNotFound())
	}
	bot := s.Bot
	msg := Message{MessageID: s.messageID(), From: &bot, Chat: Chat{ID: id, Type: "private"}, Date: time.Now().Unix()}
	switch {
	case channel:
		msg.Chat = Chat{ID: -1001000000001, Title: chatID[1:], Username: chatID[1:], Type: "channel"}
	case id < 0:
		msg.Chat = Chat{ID: id, Title: "Test group", Type: "supergroup"}
	}
	switch method {
	case "sendmessage":
		msg.Text = req.Param("text")
		if strings.TrimSpace(msg.Text) == "" {
			return apiError(Reply{Code: 400, Description: "Bad Request: message text is empty"})
		}
	case "sendphoto":
		if req.Param("photo") == "" {
			return apiError(Reply{Code: 400, Description: "Bad Request: there is no photo in the request"})
		}
		msg.Caption = req.Param("caption")
		fid := fmt.Sprintf("AgACAgQAAxkDAAI%d", msg.MessageID)
		msg.Photo = []PhotoSize{
			{FileID: fid + "_s", FileUniqueID: "AQADs" + strconv.FormatInt(msg.MessageID, 10), FileSize: 1433, Width: 90, Height: 60},
			{FileID: fid + "_l", FileUniqueID: "AQADl" + strconv.FormatInt(msg.MessageID, 10), FileSize: 48211, Width: 800, Height: 533},
		}
	case "senddocument":
		doc := req.Param("document")
		if doc == "" {
			return apiError(Reply{Code: 400, Description: "Bad Request: there is no document in the request"})
		}
		msg.Caption = req.Param("caption")
		name := doc[strings.LastIndex(doc, "/")+1:]
		msg.Document = &Document{FileName: name, MimeType: "application/octet-stream",
			FileID: fmt.Sprintf("BQACAgQAAxkDAAI%d", msg.MessageID), FileUniqueID: "AgADd" + strconv.FormatInt(msg.MessageID, 10), FileSize: 20480}
	}
	return ok200(msg)
}

// ok200 is the Bot API's success envelope, with a description where the
// method gives one.
func ok200(result any, description ...string) (int, http.Header, []byte, time.Duration) {
	env := map[string]any{"ok": true, "result": result}
	if len(description) > 0 {
		env["description"] = description[0]
	}
	b, _ := json.Marshal(env)
	return http.StatusOK, http.Header{"Content-Type": {"application/json"}}, b, 0
}

// apiError is the Bot API's error envelope; the HTTP status equals
// error_code, and a 429 carries its wait in the body and in Retry-After.
func apiError(r Reply) (int, http.Header, []byte, time.Duration) {
	if r.Body != "" {
		return r.Code, http.Header{"Content-Type": {"text/html"}}, []byte(r.Body), r.Hang
	}
	h := http.Header{"Content-Type": {"application/json"}}
	env := map[string]any{"ok": false, "error_code": r.Code, "description": r.Description}
	if r.RetryAfter > 0 {
		env["parameters"] = map[string]int{"retry_after": r.RetryAfter}
		h.Set("Retry-After", strconv.Itoa(r.RetryAfter))
	}
	b, _ := json.Marshal(env)
	return r.Code, h, b, r.Hang
}
